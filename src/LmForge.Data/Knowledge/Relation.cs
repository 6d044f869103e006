using System.Text;

namespace LmForge.Data.Knowledge;

/// <summary>
/// A relation and its words: statements (paraphrases for pretraining text), questions (wordings to ask it in) and
/// the answer sentence. Templates write {S} for the subject (with "the" where its name takes it), {S's} for its
/// possessive, {O} for the object and {a O} for the object after "a" or "an"; a question never names the object.
/// </summary>
public sealed class Relation
{
    public Relation(string name, EntityKind kind, string[] statements, string[] questions, string answer)
    {
        foreach (string template in statements.Append(answer))
            if (!template.Contains("O}", StringComparison.Ordinal) || !template.Contains("{S", StringComparison.Ordinal))
                throw new ArgumentException($"relation {name}: the statement '{template}' must name the subject and the object");
        foreach (string template in questions)
            if (template.Contains("O}", StringComparison.Ordinal) || !template.Contains("{S", StringComparison.Ordinal))
                throw new ArgumentException($"relation {name}: the question '{template}' must name the subject and not the object");
        Name = name;
        Kind = kind;
        Statements = statements;
        Questions = questions;
        AnswerTemplate = answer;
    }

    /// <summary>The name in ids and files: "capital-of".</summary>
    public string Name { get; }

    /// <summary>The kind of entity it is said of.</summary>
    public EntityKind Kind { get; }

    public IReadOnlyList<string> Statements { get; }

    public IReadOnlyList<string> Questions { get; }

    public string AnswerTemplate { get; }

    public string Statement(Fact fact, int paraphrase) => Render(Statements[paraphrase], fact.Subject, ObjectOf(fact));

    public string Question(Entity subject, int wording) => Render(Questions[wording], subject, null);

    /// <summary>The answer as a sentence, or null when the fact has no object (a fabricated entity).</summary>
    public string? Answer(Fact fact) => fact.Object is null ? null : Render(AnswerTemplate, fact.Subject, fact.Object);

    public override string ToString() => Name;

    static string ObjectOf(Fact fact) =>
        fact.Object ?? throw new InvalidOperationException($"{fact.Id}: a fact about a fabricated entity has no statement");

    static string Render(string template, Entity subject, string? obj)
    {
        string name = subject.TakesThe ? "the " + subject.Name : subject.Name;
        var text = new StringBuilder(template)
            .Replace("{S's}", name + (name.EndsWith('s') ? "'" : "'s"))
            .Replace("{S}", name);
        if (obj is not null) text.Replace("{a O}", (StartsWithVowel(obj) ? "an " : "a ") + obj).Replace("{O}", obj);
        text[0] = char.ToUpperInvariant(text[0]);
        if (text.Length > 1 && text[^1] == '.' && text[^2] == '.') text.Length--; // "... is Washington D.C."
        return text.ToString();
    }

    static bool StartsWithVowel(string word) => word.Length > 0 && "aeiouAEIOU".Contains(word[0], StringComparison.Ordinal);
}
