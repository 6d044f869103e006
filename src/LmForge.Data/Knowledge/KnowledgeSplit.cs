namespace LmForge.Data.Knowledge;

/// <summary>Where a fact goes: what the model sees in pretraining, in fine-tuning, and what it is only asked.</summary>
public enum KnowledgeSplit
{
    /// <summary>In the pretraining text and in the fine-tuning questions.</summary>
    Trained,

    /// <summary>In the pretraining text, never in fine-tuning: measures what the model learnt from text alone.</summary>
    HeldOut,

    /// <summary>A real entity none of whose facts is in the pretraining text: the model cannot know them.</summary>
    Unseen,

    /// <summary>A made-up entity, asked about in the same words as real ones: the only right answer is a refusal.</summary>
    Fabricated,
}

public static class KnowledgeSplitNames
{
    /// <summary>The names written in JSONL files, in split order.</summary>
    public static IReadOnlyList<string> Names { get; } = Enum.GetValues<KnowledgeSplit>().Select(ToName).ToArray();

    /// <summary>The name written in JSONL files: "trained", "held_out", "unseen", "fabricated".</summary>
    public static string ToName(this KnowledgeSplit split) => split switch
    {
        KnowledgeSplit.Trained => "trained",
        KnowledgeSplit.HeldOut => "held_out",
        KnowledgeSplit.Unseen => "unseen",
        KnowledgeSplit.Fabricated => "fabricated",
        _ => throw new ArgumentOutOfRangeException(nameof(split), split, null),
    };

    /// <summary>The split of a name, case-insensitive, with "-" for "_" ("held-out"); null for anything else.</summary>
    public static KnowledgeSplit? TryParse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.Trim().Replace('-', '_').ToLowerInvariant();
        foreach (var split in Enum.GetValues<KnowledgeSplit>())
            if (split.ToName() == key) return split;
        return null;
    }
}
