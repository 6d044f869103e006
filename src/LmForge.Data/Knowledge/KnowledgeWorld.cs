using System.Text.Json;
using LmForge.Data.Dedup;
using LmForge.Data.Pipeline;

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
    /// Writes facts.jsonl (each fact with its split, answers and statements) and questions.jsonl (each question with
    /// its split, answer sentence and accepted answers) into a directory, for a user to audit.
    /// </summary>
    public void Write(string directory)
    {
        Directory.CreateDirectory(directory);
        WriteJsonl(Path.Combine(directory, "facts.jsonl"), Facts, (json, fact) =>
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
        WriteJsonl(Path.Combine(directory, "questions.jsonl"), Enum.GetValues<KnowledgeSplit>().SelectMany(Questions), (json, question) =>
        {
            json.WriteString("id", question.Id);
            json.WriteString("fact", question.FactId);
            json.WriteString("split", question.Split.ToName());
            json.WriteString("relation", question.Relation);
            json.WriteString("question", question.Question);
            json.WriteString("answer", question.Answer);
            WriteStrings(json, "answers", question.Answers);
        });
    }

    /// <summary>A number in [0, 1) that depends only on the seed and the key.</summary>
    static double Unit(ulong seed, string key) => (StableHash.Hash64(key, seed) >> 11) * (1.0 / (1UL << 53));

    ulong Hash(string key) => StableHash.Hash64(key, _options.Seed);

    static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values) json.WriteStringValue(value);
        json.WriteEndArray();
    }

    /// <summary>One JSON object per line, written to "path.tmp" and renamed, so a file under its name is whole.</summary>
    static void WriteJsonl<T>(string path, IEnumerable<T> items, Action<Utf8JsonWriter, T> writeFields)
    {
        string temporary = path + ".tmp";
        using (var stream = File.Create(temporary))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            foreach (var item in items)
            {
                json.WriteStartObject();
                writeFields(json, item);
                json.WriteEndObject();
                json.Flush();
                json.Reset();
                stream.WriteByte((byte)'\n');
            }
        }
        File.Move(temporary, path, overwrite: true);
    }
}
