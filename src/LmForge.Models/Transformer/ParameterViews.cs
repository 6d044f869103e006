using LmForge.Tensors;

namespace LmForge.Models.Transformer;

/// <summary>Named views of one parameter buffer and of its gradient buffer, laid out alike.</summary>
internal sealed class ParameterViews
{
    private readonly Dictionary<string, (ModelParameter Info, Tensor Value, Tensor Gradient)> _byName = new(StringComparer.Ordinal);

    public ParameterViews(IReadOnlyList<ModelParameter> layout, Tensor parameters, Tensor gradients)
    {
        foreach (var p in layout) _byName[p.Name] = (p, parameters.Slice(p.Offset, p.Shape), gradients.Slice(p.Offset, p.Shape));
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public ModelParameter Info(string name) => Find(name).Info;

    public Tensor Value(string name) => Find(name).Value;

    public Tensor Gradient(string name) => Find(name).Gradient;

    private (ModelParameter Info, Tensor Value, Tensor Gradient) Find(string name) =>
        _byName.TryGetValue(name, out var entry) ? entry : throw new KeyNotFoundException($"the model has no parameter named '{name}'");
}

/// <summary>
/// The tensors of one activation plan, in the backend's memory. Each is allocated once, when the plan is made for a
/// (batch, sequence length), and freed with the plan; a training step then allocates nothing.
/// </summary>
internal sealed class ActivationAllocator(IBackend backend) : IDisposable
{
    private readonly List<Tensor> _owned = [];

    public Tensor Float(params int[] shape) => Keep(backend.Allocate(new TensorShape(shape)));

    public Tensor Int32(params int[] shape) => Keep(backend.Allocate(new TensorShape(shape), TensorElementType.Int32));

    private Tensor Keep(Tensor tensor)
    {
        _owned.Add(tensor);
        return tensor;
    }

    public void Dispose()
    {
        foreach (var tensor in _owned) tensor.Dispose();
        _owned.Clear();
    }
}
