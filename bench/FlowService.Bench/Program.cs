Console.WriteLine("FlowService benchmarks: see bench/README.md");
