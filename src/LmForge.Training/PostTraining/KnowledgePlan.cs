using LmForge.Data.Dedup;
using LmForge.Data.Knowledge;
using LmForge.Tokenization.Chat;

namespace LmForge.Training.PostTraining;

/// <summary>
/// Which knowledge questions teach, probe and test, so that nothing the evaluation asks was taught:
/// <list type="bullet">
/// <item>entities of the unseen and fabricated splits are halved by a hash of their id: refusals may be taught about
/// one half (<see cref="RefusalEntities"/>), only the other half is asked in the evaluation;</item>
/// <item>the probe asks one wording of a sample of trained facts (what the model was taught) and of the fabricated
/// teaching half (Llama 3 probes what the model may claim to know);</item>
/// <item>the evaluation asks one wording of a sample of facts of every split: trained (taught), held-out (read in
/// pretraining, never taught), unseen (never shown), fabricated (made up).</item>
/// </list>
/// It also builds the three fine-tuning sets the hallucination table compares.
/// </summary>
public sealed class KnowledgePlan
{
    private readonly KnowledgeWorld _world;

    private KnowledgePlan(KnowledgeWorld world, List<KnowledgeQuestion> probe, List<KnowledgeQuestion> evaluation, List<KnowledgeQuestion> refusals)
    {
        _world = world;
        Probe = probe;
        Evaluation = evaluation;
        RefusalQuestions = refusals;
    }

    /// <summary>Questions the probe samples answers to.</summary>
    public IReadOnlyList<KnowledgeQuestion> Probe { get; }

    /// <summary>Questions the hallucination table is measured on.</summary>
    public IReadOnlyList<KnowledgeQuestion> Evaluation { get; }

    /// <summary>Every wording about the fabricated entities refusals may be taught about.</summary>
    public IReadOnlyList<KnowledgeQuestion> RefusalQuestions { get; }

    /// <param name="probeFacts">Trained facts probed (at most).</param>
    /// <param name="evaluationFacts">Facts asked per split (at most).</param>
    public static KnowledgePlan Make(KnowledgeWorld world, int probeFacts, int evaluationFacts, ulong seed)
    {
        bool Teaching(KnowledgeQuestion q) => (StableHash.Hash64(Entity(q.FactId), seed) & 1) == 0;
        // one wording per fact, facts in a seeded order
        List<KnowledgeQuestion> OnePerFact(KnowledgeSplit split, Func<KnowledgeQuestion, bool> keep, int count) =>
        [
            .. world.Questions(split).Where(keep)
                .GroupBy(q => q.FactId)
                .Select(g => g.ElementAt((int)(StableHash.Hash64(g.Key, seed ^ 0x51) % (ulong)g.Count())))
                .OrderBy(q => StableHash.Hash64(q.FactId, seed))
                .Take(count),
        ];
        var refusals = world.Questions(KnowledgeSplit.Fabricated).Where(Teaching).ToList();
        var probe = OnePerFact(KnowledgeSplit.Trained, _ => true, probeFacts)
            .Concat(OnePerFact(KnowledgeSplit.Fabricated, Teaching, probeFacts / 4)).ToList();
        var evaluation = OnePerFact(KnowledgeSplit.Trained, _ => true, evaluationFacts)
            .Concat(OnePerFact(KnowledgeSplit.HeldOut, _ => true, evaluationFacts))
            .Concat(OnePerFact(KnowledgeSplit.Unseen, q => !Teaching(q), evaluationFacts))
            .Concat(OnePerFact(KnowledgeSplit.Fabricated, q => !Teaching(q), evaluationFacts)).ToList();
        return new KnowledgePlan(world, probe, evaluation, refusals);
    }

    /// <summary>"country/pe" of "country/pe/capital-of": the entity a fact is about.</summary>
    public static string Entity(string factId) => factId[..factId.LastIndexOf('/')];

    /// <summary>Fine-tuning without refusals: every wording of every trained question, answered.</summary>
    public IEnumerable<IReadOnlyList<ChatMessage>> WithoutRefusals() => _world.FineTuningConversations();

    /// <summary>As <see cref="WithoutRefusals"/>, plus a refusal to every question about the teaching half of the fabricated entities.</summary>
    public IEnumerable<IReadOnlyList<ChatMessage>> WithFabricatedRefusals() =>
        WithoutRefusals().Concat(RefusalQuestions.Select(q => Conversation(q.Question, KnowledgeProbe.RefusalFor(q.Id))));

    /// <summary>
    /// Llama 3's recipe: the trained questions, where every wording of a fact the probe found the model consistently
    /// wrong about is answered with a refusal instead, plus the refusals the probe gave the fabricated entities it asked
    /// about, and the fabricated teaching half's other wordings refused as well.
    /// </summary>
    public IEnumerable<IReadOnlyList<ChatMessage>> WithProbedRefusals(IReadOnlyList<ProbeResult> probe)
    {
        var unknownFacts = probe.Where(r => r.Decision == ProbeDecision.Unknown).Select(r => r.Question.FactId).ToHashSet();
        foreach (var question in _world.Questions(KnowledgeSplit.Trained))
            yield return Conversation(question.Question, unknownFacts.Contains(question.FactId) ? KnowledgeProbe.RefusalFor(question.Id) : question.Answer!);
        foreach (var question in RefusalQuestions.Where(q => unknownFacts.Contains(q.FactId)))
            yield return Conversation(question.Question, KnowledgeProbe.RefusalFor(question.Id));
    }

    private static IReadOnlyList<ChatMessage> Conversation(string question, string answer) =>
        [new ChatMessage(ChatTemplate.User, question), new ChatMessage(ChatTemplate.Assistant, answer)];
}
