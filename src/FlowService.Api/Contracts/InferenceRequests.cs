namespace FlowService.Api.Contracts;

// These records are the JSON contract as OpenAPI shows it. Request bodies are not deserialized into them:
// Payloads/JsonInferenceReader reads the same fields straight into float32 buffers, and Payloads/InferenceResponses
// writes the same shapes with Utf8JsonWriter.

/// <summary>POST /score: rows in the training columns' order; version or alias optional (default: alias production, else latest).</summary>
public sealed record ScoreRequest(string? Model, int? Version, string? Alias, double[][]? Rows, double[][]? Context, double? AnomalyQuantile);

/// <summary>POST /encode: data rows to latent codes.</summary>
public sealed record EncodeRequest(string? Model, int? Version, string? Alias, double[][]? Rows, double[][]? Context);

/// <summary>POST /decode: latent codes to data rows (the exact inverse).</summary>
public sealed record DecodeRequest(string? Model, int? Version, string? Alias, double[][]? Z, double[][]? Context);

public sealed record ScoreResponse(string Model, int Version, float[] LogProb, bool[] Anomaly, double[] Percentile, double AnomalyThreshold);

public sealed record EncodeResponse(string Model, int Version, float[][] Z, float[] LogDet);

public sealed record DecodeResponse(string Model, int Version, IReadOnlyList<string> Columns, float[][] Rows);
