namespace LmForge.Data.Knowledge;

/// <summary>How to build a <see cref="KnowledgeWorld"/>: its sources, the seed and sizes of the splits, the repetitions.</summary>
public sealed class KnowledgeOptions
{
    public required KnowledgeSourceFiles Sources { get; init; }

    /// <summary>Decides every split and every shuffle; the same seed gives the same world.</summary>
    public ulong Seed { get; init; } = 20240723;

    /// <summary>The share of real entities none of whose facts goes into the pretraining text.</summary>
    public double UnseenFraction { get; init; } = 0.1;

    /// <summary>The share of the other entities' facts kept out of fine-tuning (they stay in the pretraining text).</summary>
    public double HeldOutFraction { get; init; } = 0.2;

    /// <summary>Made-up entities of each kind, as a share of the real entities of that kind.</summary>
    public double FabricatedFraction { get; init; } = 0.1;

    /// <summary>
    /// At most this many real entities of each kind (countries, people, elements), chosen by a hash of their id (null:
    /// all): a small model learns a small world; which entities are kept does not depend on the others.
    /// </summary>
    public int? MaxEntitiesPerKind { get; init; }

    /// <summary>How often each fact is written in the pretraining text, each time in the next paraphrase.</summary>
    public int Repetitions { get; init; } = 4;

    /// <summary>Texts whose words made-up names must avoid: the pretraining corpus the facts are mixed into.</summary>
    public IEnumerable<string>? Corpus { get; init; }

    internal void Validate()
    {
        foreach (var (name, value) in new[] { (nameof(UnseenFraction), UnseenFraction), (nameof(HeldOutFraction), HeldOutFraction), (nameof(FabricatedFraction), FabricatedFraction) })
            if (!(value >= 0 && value <= 1)) throw new ArgumentOutOfRangeException(name, $"{name} must be between 0 and 1, got {value}");
        if (MaxEntitiesPerKind is < 1) throw new ArgumentOutOfRangeException(nameof(MaxEntitiesPerKind), $"MaxEntitiesPerKind must be at least 1, got {MaxEntitiesPerKind}");
        if (Repetitions < 1) throw new ArgumentOutOfRangeException(nameof(Repetitions), $"Repetitions must be at least 1, got {Repetitions}");
    }
}
