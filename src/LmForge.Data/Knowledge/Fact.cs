namespace LmForge.Data.Knowledge;

/// <summary>What an entity is; each relation applies to one kind.</summary>
public enum EntityKind
{
    Country,
    Person,
    Element,
}

/// <summary>
/// A thing that facts are about. <see cref="Id"/> ("country/pe", "person/wolfgang-amadeus-mozart") stays the same
/// when the sources grow; <see cref="Name"/> is what sentences and questions call it; <see cref="Aliases"/> are other
/// names a reader may use ("UK", "Mozart"). <see cref="TakesThe"/> marks names read with "the" ("the Netherlands").
/// </summary>
public sealed record Entity(string Id, string Name, EntityKind Kind, IReadOnlyList<string> Aliases, bool TakesThe = false)
{
    /// <summary>True for a made-up entity: it exists in no source, so no fact about it is true.</summary>
    public bool IsFabricated { get; init; }

    /// <summary>"person/wolfgang-amadeus-mozart": the kind, then the name in lower case with a dash for each run of other characters.</summary>
    public static string IdFor(EntityKind kind, string name)
    {
        var slug = new System.Text.StringBuilder();
        foreach (char c in name.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c)) slug.Append(c);
            else if (slug.Length > 0 && slug[^1] != '-') slug.Append('-');
        }
        return $"{kind.ToString().ToLowerInvariant()}/{slug.ToString().TrimEnd('-')}";
    }
}

/// <summary>
/// One fact, (subject, relation, object) such as (Peru, capital-of, Lima), with the answers a judge should accept:
/// the object first, then other names for it. A fabricated entity's facts have no object and no answers.
/// </summary>
public sealed record Fact(Entity Subject, Relation Relation, string? Object, IReadOnlyList<string> Answers, string Source)
{
    /// <summary>"country/pe/capital-of": the subject's id and the relation's name.</summary>
    public string Id => $"{Subject.Id}/{Relation.Name}";

    /// <summary>The fact as a sentence, in paraphrase <paramref name="paraphrase"/> of the relation's statements.</summary>
    public string Statement(int paraphrase) => Relation.Statement(this, paraphrase);
}
