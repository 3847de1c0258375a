namespace FlowService.Training.Optimization;

/// <summary>
/// The learning rate at each optimizer step (0-based). <see cref="Constant"/>; <see cref="Cosine"/>:
/// linear warm-up over <c>warmupSteps</c> then cosine decay to <c>minimum</c> at <c>totalSteps</c>
/// (torch's CosineAnnealingLR after a LinearLR warm-up); <see cref="Step"/>: multiplied by
/// <c>gamma</c> every <c>stepSize</c> steps (torch's StepLR); <see cref="WarmUp"/>: any of them scaled by
/// (step + 1) / warmupSteps over the first warmupSteps steps (torch's LinearLR composed with it).
/// </summary>
public abstract record LearningRateSchedule
{
    public abstract double At(int step);

    public static LearningRateSchedule Constant(double rate) => new ConstantSchedule(rate);

    public static LearningRateSchedule Cosine(double rate, int totalSteps, int warmupSteps = 0, double minimum = 0) =>
        new CosineSchedule(rate, totalSteps, warmupSteps, minimum);

    public static LearningRateSchedule Step(double rate, int stepSize, double gamma) => new StepSchedule(rate, stepSize, gamma);

    public static LearningRateSchedule WarmUp(LearningRateSchedule inner, int warmupSteps) => new WarmUpSchedule(inner, warmupSteps);

    private sealed record WarmUpSchedule : LearningRateSchedule
    {
        private readonly LearningRateSchedule _inner;
        private readonly int _warmup;

        public WarmUpSchedule(LearningRateSchedule inner, int warmup)
        {
            ArgumentNullException.ThrowIfNull(inner);
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(warmup);
            (_inner, _warmup) = (inner, warmup);
        }

        public override double At(int step) => step < _warmup ? _inner.At(step) * (step + 1) / _warmup : _inner.At(step);
    }

    private sealed record ConstantSchedule(double Rate) : LearningRateSchedule
    {
        public override double At(int step) => Rate;
    }

    private sealed record CosineSchedule : LearningRateSchedule
    {
        private readonly double _rate, _minimum;
        private readonly int _total, _warmup;

        public CosineSchedule(double rate, int total, int warmup, double minimum)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(total);
            ArgumentOutOfRangeException.ThrowIfNegative(warmup);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(warmup, total);
            (_rate, _total, _warmup, _minimum) = (rate, total, warmup, minimum);
        }

        public override double At(int step)
        {
            if (step < _warmup)
                return _rate * (step + 1) / _warmup;
            double progress = Math.Min(1.0, (double)(step - _warmup) / (_total - _warmup));
            return _minimum + 0.5 * (_rate - _minimum) * (1 + Math.Cos(Math.PI * progress));
        }
    }

    private sealed record StepSchedule : LearningRateSchedule
    {
        private readonly double _rate, _gamma;
        private readonly int _stepSize;

        public StepSchedule(double rate, int stepSize, double gamma)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(stepSize);
            (_rate, _stepSize, _gamma) = (rate, stepSize, gamma);
        }

        public override double At(int step) => _rate * Math.Pow(_gamma, step / _stepSize);
    }
}
