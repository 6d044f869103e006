namespace LmForge.Data.Knowledge;

/// <summary>
/// One wording of a question about one fact. <see cref="Answer"/> is a short sentence that contains the object (null
/// for a fabricated entity, which has none); <see cref="Answers"/> are the strings a judge accepts.
/// </summary>
public sealed record KnowledgeQuestion(
    string Id, string FactId, KnowledgeSplit Split, string Relation, string Question, string? Answer, IReadOnlyList<string> Answers);
