namespace LmForge.Tensors.Optimization;

/// <summary>
/// AdamW over one flat parameter buffer: owns the first and second moments (same length as the parameters) and the
/// step count. Elements [0, decayedLength) get weight decay, the rest (biases, norms) none.
/// </summary>
public sealed class AdamWOptimizer : IDisposable
{
    private readonly IBackend _backend;

    public AdamWOptimizer(IBackend backend, long parameterCount, long decayedLength, AdamWSettings settings)
    {
        settings.Validate();
        if (decayedLength < 0 || decayedLength > parameterCount)
            throw new ArgumentOutOfRangeException(nameof(decayedLength), $"decayedLength {decayedLength} is outside [0, {parameterCount}]");
        if (parameterCount > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(parameterCount), $"{parameterCount} parameters exceed one tensor");
        _backend = backend;
        Settings = settings;
        DecayedLength = decayedLength;
        FirstMoment = backend.Allocate(new TensorShape((int)parameterCount));
        SecondMoment = backend.Allocate(new TensorShape((int)parameterCount));
    }

    public AdamWSettings Settings { get; }

    /// <summary>The backend that holds the moments and runs the update.</summary>
    public IBackend Backend => _backend;

    public long DecayedLength { get; }

    /// <summary>Exponential moving average of the gradients (m), one per parameter.</summary>
    public Tensor FirstMoment { get; }

    /// <summary>Exponential moving average of the squared gradients (v), one per parameter.</summary>
    public Tensor SecondMoment { get; }

    /// <summary>Number of updates done so far; set it when resuming from a checkpoint.</summary>
    public int StepCount { get; set; }

    /// <summary>parameters −= AdamW(gradients · gradientScale), both flat (P) tensors; gradientScale folds in gradient clipping.</summary>
    public void Step(Tensor parameters, Tensor gradients, float learningRate, float gradientScale = 1f)
    {
        StepCount++;
        var update = new AdamWUpdate(learningRate, Settings.Beta1, Settings.Beta2, Settings.Epsilon, Settings.WeightDecay, StepCount, gradientScale);
        _backend.AdamW(parameters, gradients, FirstMoment, SecondMoment, update, DecayedLength);
    }

    public void Dispose()
    {
        FirstMoment.Dispose();
        SecondMoment.Dispose();
    }
}
