using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>How a parameter starts: N(0, 0.02) for matrices, N(0, 0.02/√(2·layers)) for the projections into the residual stream (GPT-2's scaling), ones for norm gains, zeros for biases.</summary>
public enum ParameterInit
{
    Normal,
    ResidualNormal,
    Ones,
    Zeros,
}

/// <summary>
/// One named parameter: where it lives in the model's single parameter buffer (the gradient has the same offset in the
/// gradient buffer), whether it is weight-decayed, and how it is initialized. Matrices are stored as nn.Linear does,
/// (out, in). <see cref="RealRows"/> is less than the first dimension for tables padded to the padded vocabulary: the
/// padding rows stay zero.
/// </summary>
public sealed record ModelParameter(string Name, TensorShape Shape, long Offset, bool WeightDecay, ParameterInit Init, int RealRows)
{
    public long Length => Shape.Length;
}

/// <summary>
/// Builds a parameter layout in two steps: modules declare their parameters in forward order, then <see cref="Build"/>
/// places the decayed ones (matrices, embeddings) first and the rest (biases, norm gains) after, keeping the declared
/// order within each group, so AdamW decays one prefix of the buffer. Offsets are 64-bit.
/// </summary>
internal sealed class ParameterLayoutBuilder
{
    private readonly List<(string Name, TensorShape Shape, bool Decay, ParameterInit Init, int RealRows)> _declared = [];

    public void Declare(string name, bool decay, ParameterInit init, params int[] shape) => DeclarePadded(name, decay, init, shape[0], shape);

    /// <summary>A table whose rows past <paramref name="realRows"/> are padding (kept at zero).</summary>
    public void DeclarePadded(string name, bool decay, ParameterInit init, int realRows, params int[] shape)
    {
        if (_declared.Exists(p => p.Name == name)) throw new InvalidOperationException($"parameter '{name}' is declared twice");
        _declared.Add((name, new TensorShape(shape), decay, init, realRows));
    }

    public IReadOnlyList<ModelParameter> Build()
    {
        var layout = new List<ModelParameter>(_declared.Count);
        long offset = 0;
        foreach (bool decayed in (ReadOnlySpan<bool>)[true, false])
        {
            foreach (var p in _declared)
            {
                if (p.Decay != decayed) continue;
                layout.Add(new ModelParameter(p.Name, p.Shape, offset, p.Decay, p.Init, p.RealRows));
                offset += p.Shape.Length;
            }
        }
        return layout;
    }
}
