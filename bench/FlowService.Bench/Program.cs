using FlowService.Bench;

// Benchmark modes: dotnet run -c Release --project bench/FlowService.Bench -- <mode> [options]
return args.FirstOrDefault() switch
{
    "gemm" => GemmBenchmark.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.WriteLine("FlowService benchmarks. Modes:");
    Console.WriteLine("  gemm [--quick]   GFLOP/s of the managed, OpenBLAS and reference GEMMs on flow shapes and 512x256x256");
    return 1;
}
