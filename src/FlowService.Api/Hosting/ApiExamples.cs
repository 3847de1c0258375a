namespace FlowService.Api.Hosting;

/// <summary>The example bodies shown in Swagger UI.</summary>
public static class ApiExamples
{
    public const string DatasetCsv = "x,y\n0.51,-0.32\n1.93,0.27\n-0.88,0.64\n0.12,0.99\n";

    public const string DatasetInfo = """
        {"id":"0196f0c2a1b27c3d9e8f001122334455","name":"moons","format":"csv","rows":4,"columns":["x","y"],
         "statistics":[{"name":"x","mean":0.42,"std":1.01,"min":-0.88,"max":1.93},{"name":"y","mean":0.395,"std":0.49,"min":-0.32,"max":0.99}],
         "sha256":"9f2c...","sizeBytes":44,"createdAt":"2026-11-22T12:00:00Z"}
        """;

    public const string CreateJob = """
        {"datasetId":"0196f0c2a1b27c3d9e8f001122334455","model":"moons",
         "flow":{"type":"realnvp","layers":6,"hidden":[64,64]},
         "training":{"epochs":50,"batchSize":256,"learningRate":0.001,"weightDecay":0,"validationFraction":0.1,"testFraction":0.1,"patience":10,"seed":1,"gradClip":5}}
        """;

    /// <summary>A reverse-KL fit: no dataset, a built-in target with parameters.</summary>
    public const string CreateTargetJob = """
        {"model":"funnel10","target":{"name":"funnel","dimensions":10,"parameters":{"scale":3},"stepsPerEpoch":100,"evaluationSamples":4096},
         "flow":{"type":"nsf","layers":6,"hidden":[64,64]},"training":{"epochs":40,"batchSize":512,"learningRate":0.001,"seed":1}}
        """;

    /// <summary>A reverse-KL fit to a user's expression (a Rosenbrock-shaped density in 4 dimensions).</summary>
    public const string CreateExpressionJob = """
        {"model":"rosenbrock4","target":{"expression":"-sum(i=0..2, 5*(x[i+1] - x[i]^2)^2 + 0.5*(1 - x[i])^2) - 0.5*x3^2","dimensions":4},
         "training":{"epochs":30,"batchSize":256}}
        """;

    public const string Job = """
        {"id":"0196f0c3b2c37d4e0f9a112233445566","model":"moons","datasetId":"0196f0c2a1b27c3d9e8f001122334455","state":"running",
         "epoch":12,"epochs":50,"trainNll":[2.31,1.92],"validationNll":[2.28,1.95],"samplesPerSecond":185000,
         "elapsedSeconds":3.1,"etaSeconds":9.8,"error":null,"modelVersion":null,"cancelRequested":false}
        """;

    public const string SetAlias = """{"version":3}""";

    public const string Score = """{"model":"moons","rows":[[0.5,-0.3],[8.0,8.0]],"anomalyQuantile":0.01}""";

    public const string ScoreCsv = "x,y\n0.5,-0.3\n8.0,8.0\n";

    public const string ScoreResult = """{"model":"moons","version":3,"logProb":[-1.12,-61.7],"anomaly":[false,true],"percentile":[0.62,0.0]}""";

    public const string Encode = """{"model":"moons","rows":[[0.5,-0.3]]}""";

    public const string EncodeResult = """{"model":"moons","version":3,"z":[[0.11,-0.84]],"logDet":[0.37]}""";

    public const string Decode = """{"model":"moons","z":[[0.11,-0.84]]}""";

    public const string DecodeResult = """{"model":"moons","version":3,"rows":[[0.5,-0.3]]}""";

    public const string SampleResult = """{"model":"moons","version":3,"columns":["x","y"],"rows":[[0.48,-0.29],[1.7,0.1]]}""";
}
