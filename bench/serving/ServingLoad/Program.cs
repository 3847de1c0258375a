using FlowService.ServingLoad;

// The serving benchmark's driver (bench/serving/run.sh calls it):
//   prepare URL OUTDIR                      synthetic d=16 data, train RealNVP 8 layers [128,128] through the service, write request bodies
//   engine DATADIR MODEL SECONDS            in-process log p rows/s of the trained checkpoint (1,000-row batches, the engine's 2 threads)
//   openloop URL PATH BODY TYPE RATE SECONDS PID   fixed-rate POSTs regardless of answers; latency, statuses, server RSS
//   sample URL QUERY ACCEPT PID             one GET /sample: time to first byte, rows/s, server peak RSS
//   keycheck FOLDER SECONDS                 in-process cost of one API-key check, cached and with a store look-up
//   pipeline DATADIR BODY N none|keys       in-memory bytes and CPU per sequential single-row POST /score (batching off);
//                                           PIPELINE_ALLOCATIONS=1 adds the sampled allocating types and the exceptions thrown
// Each mode prints one JSON object.
return args.FirstOrDefault() switch
{
    "prepare" => await Prepare.RunAsync(args[1], args[2]),
    "engine" => EngineScoring.Run(args[1], args[2], double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)),
    "openloop" => await OpenLoop.RunAsync(args[1], args[2], args[3], args[4], int.Parse(args[5]), int.Parse(args[6]), int.Parse(args[7])),
    "sample" => await SampleDownload.RunAsync(args[1], args[2], args[3], int.Parse(args[4])),
    "keycheck" => await KeyCheck.RunAsync(args[1], double.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture)),
    "pipeline" => await PipelineCost.RunAsync(args[1], args[2], int.Parse(args[3]), args[4]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: ServingLoad prepare|engine|openloop|sample|keycheck|pipeline ... (see bench/serving/run.sh)");
    return 1;
}
