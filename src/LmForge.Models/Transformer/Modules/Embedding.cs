using LmForge.Tensors;

namespace LmForge.Models.Transformer.Modules;

/// <summary>A table of rows looked up by id: token embeddings, learned position embeddings, token-type embeddings.</summary>
internal sealed class Embedding
{
    private readonly string _name;

    /// <param name="rows">Rows in the table (the padded vocabulary for tokens); <paramref name="realRows"/> of them are real, the rest stay 0.</param>
    public Embedding(ParameterLayoutBuilder layout, string name, int rows, int realRows, int channels)
    {
        _name = name + ".weight";
        layout.DeclarePadded(_name, decay: true, ParameterInit.Normal, realRows, rows, channels);
    }

    public Tensor Table { get; private set; } = null!;      // (V, C)
    public Tensor TableGrad { get; private set; } = null!;  // (V, C)

    public void Bind(ParameterViews views)
    {
        Table = views.Value(_name);
        TableGrad = views.Gradient(_name);
    }

    // output (B,T,C) = table[ids] (accumulate: +=); ids Int32 (B·T)
    public void Forward(IBackend backend, Tensor output, Tensor ids, bool accumulate) => backend.EmbeddingForward(output, ids, Table, accumulate);

    // tableGrad rows += outputGrad (B,T,C) rows
    public void Backward(IBackend backend, Tensor outputGrad, Tensor ids) => backend.EmbeddingBackward(TableGrad, outputGrad, ids);
}
