namespace LmForge.Models.Transformer;

/// <summary>Training stopped because the loss or the gradient norm became NaN or infinite; the parameters were not updated.</summary>
public sealed class NonFiniteLossException : Exception
{
    public NonFiniteLossException() { }

    public NonFiniteLossException(string message) : base(message) { }

    public NonFiniteLossException(string message, Exception innerException) : base(message, innerException) { }

    public NonFiniteLossException(int step, string quantity, float value)
        : base($"step {step}: {quantity} is {value}; stopping before the update (lower the learning rate or check the data)")
    {
        Step = step;
        Quantity = quantity;
        Value = value;
    }

    /// <summary>The optimizer step (counting from 1) that produced the non-finite value.</summary>
    public int Step { get; }

    /// <summary>"loss" or "gradient norm".</summary>
    public string Quantity { get; } = "";

    public float Value { get; }
}

/// <summary>What one training step measured.</summary>
/// <param name="Step">Optimizer step number, counting from 1.</param>
/// <param name="Loss">Mean cross-entropy of the batch before the update.</param>
/// <param name="GradientNorm">Global L2 norm of the gradients before clipping.</param>
/// <param name="ClipScale">Factor the gradients were multiplied by (1 when clipping did not bite).</param>
public readonly record struct TrainStepResult(int Step, float Loss, float GradientNorm, float ClipScale);
