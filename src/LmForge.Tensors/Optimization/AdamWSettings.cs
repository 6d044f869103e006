namespace LmForge.Tensors.Optimization;

/// <summary>AdamW hyperparameters other than the learning rate (which a schedule changes per step). Defaults as torch.optim.AdamW, with GPT-2's usual 0.1 weight decay.</summary>
public sealed record AdamWSettings(float Beta1 = 0.9f, float Beta2 = 0.999f, float Epsilon = 1e-8f, float WeightDecay = 0.1f)
{
    public void Validate()
    {
        if (!(Beta1 >= 0f && Beta1 < 1f)) throw new ArgumentOutOfRangeException(nameof(Beta1), $"AdamW beta1 must be in [0, 1), got {Beta1}");
        if (!(Beta2 >= 0f && Beta2 < 1f)) throw new ArgumentOutOfRangeException(nameof(Beta2), $"AdamW beta2 must be in [0, 1), got {Beta2}");
        if (!(Epsilon > 0f)) throw new ArgumentOutOfRangeException(nameof(Epsilon), $"AdamW epsilon must be > 0, got {Epsilon}");
        if (!(WeightDecay >= 0f)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), $"AdamW weight decay must be >= 0, got {WeightDecay}");
    }
}
