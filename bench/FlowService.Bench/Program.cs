using FlowService.Bench;

// Benchmark modes: dotnet run -c Release --project bench/FlowService.Bench -- <mode> [options]
return args.FirstOrDefault() switch
{
    "gemm" => GemmBenchmark.Run(args[1..]),
    "flows" => FlowBenchmark.Run(args[1..]),
    "flow-profile" => FlowProfile.Run(args[1..]),
    "count" => InstructionCount.Run(args[1..]),
    "images" => ImageBenchmark.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.WriteLine("FlowService benchmarks. Modes:");
    Console.WriteLine("  gemm [--quick]   GFLOP/s of the managed, OpenBLAS and reference GEMMs on flow shapes and 512x256x256");
    Console.WriteLine("  flows [--seconds S] [--only realnvp_d8,...]   training samples/s, scoring rows/s and single-row latency of the flows bench/torch_bench.py runs (JSON lines)");
    Console.WriteLine("  flow-profile [--quick] [--only ...]   the same flows' time per backend op and shape (training step, 512-row and 1-row scoring)");
    Console.WriteLine("  images [--train N] [--test M] [--epochs E] [--batch B] [--spec JSON] [--png FILE]   Fashion-MNIST: test bits/dim, histogram baseline, uniform-noise AUROC, training and scoring images/s (bench/torch_images.py is the PyTorch side)");
    Console.WriteLine("  count SHAPE train|score|latency CALLS   exactly CALLS calls after 3 warm-ups (SHAPE spline: reference|kernel), for instruction counts under valgrind (see InstructionCount.cs)");
    return 1;
}
