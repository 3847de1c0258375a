using FlowService.Bench;

// Benchmark modes: dotnet run -c Release --project bench/FlowService.Bench -- <mode> [options]
return args.FirstOrDefault() switch
{
    "gemm" => GemmBenchmark.Run(args[1..]),
    "flows" => FlowBenchmark.Run(args[1..]),
    "flow-profile" => FlowProfile.Run(args[1..]),
    "count" => InstructionCount.Run(args[1..]),
    "reverse-kl" => ReverseKlBenchmark.Run(args[1..]),
    "reverse-kl-speed" => ReverseKlSpeedBenchmark.Run(args[1..]),
    "digits" => DigitsBenchmark.Run(args[1..]),
    "digits-dequantization" => DigitsBenchmark.RunDequantization(args[1..]),
    "images" => ImageBenchmark.Run(args[1..]),
    "image-steps" => ImageStepTiming.Run(args[1..]),
    "image-score" => ImageScoreTiming.Run(args[1..]),
    "image-parity" => ImageParityExport.Run(args[1..]),
    "conv-layers" => ConvLayerTiming.Run(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.WriteLine("FlowService benchmarks. Modes:");
    Console.WriteLine("  gemm [--quick]   GFLOP/s of the managed, OpenBLAS and reference GEMMs on flow shapes and 512x256x256");
    Console.WriteLine("  flows [--seconds S] [--only realnvp_d8,...]   training samples/s, scoring rows/s and single-row latency of the flows bench/torch_bench.py runs (JSON lines)");
    Console.WriteLine("  flow-profile [--quick] [--images] [--cpu] [--only ...]   the same flows' time per backend op and shape (--cpu: thread CPU time, for a shared machine) (training step, 512-row and 1-row scoring)");
    Console.WriteLine("  reverse-kl [--flow JSON] [--epochs N] [--steps N] [--batch N] [--lr X] [--only mixture4_d10,...]   reverse-KL fits of targets with known log Z: log Z error, ESS, modes found (JSON lines)");
    Console.WriteLine("  reverse-kl-speed [--seconds S] [--dims 2,10]   reverse-KL training samples/s on the funnel (bench/torch_reverse_kl_bench.py is the PyTorch side)");
    Console.WriteLine("  digits [--epochs N] [--hidden H] [--components K] [--layers L] [--seeds S]   held-out bits/dim on sklearn's dequantized digits: flowpp vs realnvp at equal parameter count (JSON lines)");
    Console.WriteLine("  digits-dequantization [--epochs N] [--model SPEC] [--dequantizer SPEC]   held-out bound in bits/dim on digits: uniform vs variational dequantization at the same budget");
    Console.WriteLine("  images [--train N] [--test M] [--epochs E] [--batch B] [--spec JSON] [--png FILE]   Fashion-MNIST: test bits/dim, histogram baseline, uniform-noise AUROC, training and scoring images/s (bench/torch_images.py is the PyTorch side)");
    Console.WriteLine("  image-steps [--steps N] [--batch B] [--spec JSON]   wall time per training step of the images flow on the trainer's path: the first steps, then median and best");
    Console.WriteLine("  image-score [--images N] [--calls C] [--spec JSON]   wall and CPU time of each log p call on N test images: the first call (what images measures) and the steady state");
    Console.WriteLine("  image-parity [--steps N] [--batch B] [--seed S] [--schedule constant|cosine] [--warmup W] [--start EARLIER_EXPORT] [--out FILE]   the images flow's first N training steps as FlowTrainer runs them, with every input, loss and parameter bench/torch_image_parity.py needs to replay them in PyTorch");
    Console.WriteLine("  conv-layers [--reps N]   microseconds per call of each 3x3 convolution shape of the images flow's conditioners, forward and backward, one thread");
    Console.WriteLine("  count SHAPE train|score|latency CALLS   exactly CALLS calls after 3 warm-ups (SHAPE spline: reference|kernel), for instruction counts under valgrind (see InstructionCount.cs)");
    return 1;
}
