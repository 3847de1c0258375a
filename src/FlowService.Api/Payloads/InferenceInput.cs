using FlowService.Api.Scoring;

namespace FlowService.Api.Payloads;

/// <summary>A parsed inference request: the served model, input rows (rows x D) and context (rows x C), and the anomaly quantile for /score.</summary>
public sealed record InferenceInput(ScoringService.Resolved Model, float[] X, float[] Context, int Rows, double AnomalyQuantile);
