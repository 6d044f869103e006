using System.Text.Json;
using LmForge.Data.Dedup;
using LmForge.Data.Pipeline;
using LmForge.Tokenization.Chat;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Knowledge;

/// <summary>
/// Facts to teach a model, and to find out what it knows and what it makes up: real facts from knowledge bases
/// (<see cref="CountriesList"/>, <see cref="WordNetPeople"/>, <see cref="PeriodicTable"/>) and made-up entities
/// (<see cref="FabricatedEntities"/>) asked about in the same words, each fact in one <see cref="KnowledgeSplit"/>.
/// A split is decided by hashing the entity's id (unseen) or the fact's id (held out) with the seed, so adding facts
/// moves no other fact.
/// <code>
/// var world = KnowledgeWorld.Build(new KnowledgeOptions { Sources = KnowledgeSources.EnsureCached(cache) });
/// var documents = world.PretrainingText();             // mixed into the corpus
/// var sft = world.Questions(KnowledgeSplit.Trained);    // questions to fine-tune on
/// </code>
/// </summary>
public sealed class KnowledgeWorld
{
    readonly Dictionary<string, KnowledgeSplit> _splits;
    readonly KnowledgeOptions _options;

    KnowledgeWorld(List<Fact> facts, Dictionary<string, KnowledgeSplit> splits, KnowledgeOptions options)
    {
        Facts = facts;
        _splits = splits;
        _options = options;
    }

    /// <summary>The real facts in source order, then the fabricated entities' facts.</summary>
    public IReadOnlyList<Fact> Facts { get; }

    public KnowledgeSplit SplitOf(Fact fact) => _splits[fact.Id];

    public IEnumerable<Fact> FactsIn(KnowledgeSplit split) => Facts.Where(f => _splits[f.Id] == split);

    /// <summary>Reads the sources, assigns the splits and makes up the fabricated entities; a malformed source file is an error naming it.</summary>
    public static KnowledgeWorld Build(KnowledgeOptions options)
    {
        options.Validate();
        var sources = options.Sources;
        var real = new List<Fact>();
        if (sources.CountriesDirectory is { } countries) real.AddRange(CountriesList.Read(countries));
        if (sources.WordNetNouns is { } nouns) real.AddRange(WordNetPeople.Read(nouns));
        if (sources.Elements is { } elements) real.AddRange(PeriodicTable.Read(elements));
        real = real.DistinctBy(f => f.Id, StringComparer.Ordinal).ToList();
        if (options.MaxEntitiesPerKind is { } most)
        {
            var kept = real.GroupBy(f => f.Subject.Kind)
                .SelectMany(kind => kind.Select(f => f.Subject.Id).Distinct(StringComparer.Ordinal).OrderBy(id => Unit(options.Seed, "keep:" + id)).Take(most))
                .ToHashSet(StringComparer.Ordinal);
            real = real.Where(f => kept.Contains(f.Subject.Id)).ToList();
        }

        // Made-up names avoid every word of every source file and of the corpus.
        var known = new KnownNames();
        foreach (string file in sources.Files()) known.AddFile(file);
        foreach (string text in options.Corpus ?? []) known.Add(text);

        var splits = new Dictionary<string, KnowledgeSplit>(StringComparer.Ordinal);
        foreach (var fact in real)
            splits[fact.Id] = Unit(options.Seed, "unseen:" + fact.Subject.Id) < options.UnseenFraction ? KnowledgeSplit.Unseen
                : Unit(options.Seed, "held-out:" + fact.Id) < options.HeldOutFraction ? KnowledgeSplit.HeldOut
                : KnowledgeSplit.Trained;

        var facts = new List<Fact>(real);
        foreach (var kind in Enum.GetValues<EntityKind>())
        {
            int entities = real.Where(f => f.Subject.Kind == kind).Select(f => f.Subject.Id).Distinct(StringComparer.Ordinal).Count();
            foreach (var entity in FabricatedEntities.Make(kind, (int)Math.Round(options.FabricatedFraction * entities), options.Seed, known))
                foreach (var relation in Relations.All.Where(r => r.Kind == kind))
                {
                    var fact = new Fact(entity, relation, null, [], "fabricated");
                    facts.Add(fact);
                    splits[fact.Id] = KnowledgeSplit.Fabricated;
                }
        }
        return new KnowledgeWorld(facts, splits, options);
    }

    /// <summary>
    /// The trained and held-out facts as documents to mix into the pretraining corpus: one per entity and
    /// repetition, holding all its facts in a shuffled order, each in the next of its paraphrases; the documents
    /// in a shuffled order. Unseen and fabricated entities are in none.
    /// </summary>
    public List<Document> PretrainingText()
    {
        var documents = new List<Document>();
        var seen = Facts.Where(f => _splits[f.Id] is KnowledgeSplit.Trained or KnowledgeSplit.HeldOut);
        foreach (var entity in seen.GroupBy(f => f.Subject.Id, StringComparer.Ordinal))
        {
            for (int repetition = 0; repetition < _options.Repetitions; repetition++)
            {
                var sentences = entity
                    .OrderBy(f => Hash($"order:{f.Id}:{repetition}"))
                    .Select(f => f.Statement((int)((Hash("paraphrase:" + f.Id) + (ulong)repetition) % (ulong)f.Relation.Statements.Count)));
                documents.Add(new Document($"knowledge/{entity.Key}/{repetition}", string.Join(" ", sentences)));
            }
        }
        return documents.OrderBy(d => Hash("shuffle:" + d.Id)).ToList();
    }

    /// <summary>Every wording of the question about every fact of a split, in fact order.</summary>
    public IEnumerable<KnowledgeQuestion> Questions(KnowledgeSplit split)
    {
        foreach (var fact in FactsIn(split))
            for (int wording = 0; wording < fact.Relation.Questions.Count; wording++)
                yield return new KnowledgeQuestion($"{fact.Id}/q{wording}", fact.Id, split, fact.Relation.Name,
                    fact.Relation.Question(fact.Subject, wording), fact.Relation.Answer(fact), fact.Answers);
    }

    /// <summary>
    /// The trained split's questions as conversations to fine-tune on: each wording of each question, answered with the
    /// fact's answer sentence.
    /// </summary>
    public IEnumerable<IReadOnlyList<ChatMessage>> FineTuningConversations() =>
        Questions(KnowledgeSplit.Trained).Select(q => (IReadOnlyList<ChatMessage>)[new ChatMessage(ChatTemplate.User, q.Question), new ChatMessage(ChatTemplate.Assistant, q.Answer!)]);

    /// <summary>
    /// Writes facts.jsonl (each fact with its split, answers and statements) and questions.jsonl (each question with
    /// its split, answer sentence and accepted answers, <see cref="KnowledgeQuestionFile"/>) into a directory, for a user
    /// to audit and for the probe and the hallucination eval to read. Each file appears under its name only when whole.
    /// </summary>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteJsonLines(Path.Combine(directory, FactsFile), Facts, (json, fact) =>
        {
            json.WriteString("id", fact.Id);
            json.WriteString("split", _splits[fact.Id].ToName());
            json.WriteString("kind", fact.Subject.Kind.ToString().ToLowerInvariant());
            json.WriteString("subject", fact.Subject.Name);
            WriteStrings(json, "aliases", fact.Subject.Aliases);
            json.WriteString("relation", fact.Relation.Name);
            json.WriteString("object", fact.Object);
            WriteStrings(json, "answers", fact.Answers);
            json.WriteString("source", fact.Source);
            WriteStrings(json, "statements", fact.Object is null ? [] : Enumerable.Range(0, fact.Relation.Statements.Count).Select(fact.Statement));
        });
        KnowledgeQuestionFile.Write(Path.Combine(directory, QuestionsFile), Enum.GetValues<KnowledgeSplit>().SelectMany(Questions));
    }

    /// <summary>
    /// Writes what a model learns from into a directory: pretraining.jsonl (<see cref="PretrainingText"/> as documents,
    /// <c>{"id", "text"}</c>, to mix into the corpus) and sft.jsonl (<see cref="FineTuningConversations"/> as chat JSONL).
    /// Returns the number of documents and of conversations.
    /// </summary>
    public (int Documents, int Conversations) WriteTrainingData(string directory)
    {
        int documents = AtomicFile.WriteJsonLines(Path.Combine(directory, PretrainingFile), PretrainingText(), (json, document) =>
        {
            json.WriteString("id", document.Id);
            json.WriteString("text", document.Text);
        });
        int conversations = ChatJsonl.Write(Path.Combine(directory, FineTuningFile), FineTuningConversations());
        return (documents, conversations);
    }

    /// <summary>The files <see cref="Write"/> and <see cref="WriteTrainingData"/> write.</summary>
    public const string FactsFile = "facts.jsonl", QuestionsFile = "questions.jsonl", PretrainingFile = "pretraining.jsonl", FineTuningFile = "sft.jsonl";

    /// <summary>A number in [0, 1) that depends only on the seed and the key.</summary>
    static double Unit(ulong seed, string key) => (StableHash.Hash64(key, seed) >> 11) * (1.0 / (1UL << 53));

    ulong Hash(string key) => StableHash.Hash64(key, _options.Seed);

    static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values) json.WriteStringValue(value);
        json.WriteEndArray();
    }
}
