using System.Text.Json;
using System.Text.RegularExpressions;
using LmForge.Data.Knowledge;
using LmForge.Tokenization.Saving;

namespace LmForge.Data.Tasks;

/// <summary>One multiple-choice example as LmForge's task JSONL holds it: the choice follows the context after a space.</summary>
public sealed record MultipleChoiceItem(string Id, string Context, IReadOnlyList<string> Choices, int Answer);

/// <summary>
/// Builders of LmForge's own multiple-choice tasks, made from text and knowledge bases the registries here offer. They
/// are modelled on published benchmarks but are not them, and are named so: a LAMBADA-style last word, a HellaSwag-like
/// "which sentence comes next", and knowledge questions. Each example has four choices with the right one at a seeded
/// position; everything is deterministic for a seed. Written as <c>{"id", "context", "choices", "answer"}</c> lines,
/// the generic format <c>lmforge eval --task multiple-choice</c> reads, with a task list for the CORE-style aggregate.
/// </summary>
public static partial class MultipleChoiceTasks
{
    public const string LastWordFile = "last-word.jsonl", NextSentenceFile = "next-sentence.jsonl", KnowledgeFile = "knowledge.jsonl", TaskListFile = "tasks.json";

    const int Choices = 4;

    // Words too common to be a telling distractor.
    static readonly HashSet<string> CommonWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "the", "and", "that", "with", "was", "for", "not", "but", "his", "her", "she", "him", "they", "them", "had", "have", "from",
        "this", "which", "were", "you", "all", "are", "one", "their", "there", "been", "would", "what", "when", "said", "will", "who",
        "could", "into", "more", "some", "than", "then", "out", "upon", "its", "our", "your", "any", "very", "shall", "may", "did",
    };

    /// <summary>
    /// LAMBADA-style last words: a paragraph of at least 40 words from the books whose last word ends a sentence; the
    /// context is the paragraph up to that word, the choices are the word and three other words of the same paragraph,
    /// capitalised as it is (so picking it takes reading the passage, not just the last few words or the case).
    /// </summary>
    public static List<MultipleChoiceItem> LastWord(IReadOnlyList<(string Name, string Text)> books, int count, int seed)
    {
        var candidates = new List<(string Id, string Context, string Word, List<string> Others)>();
        foreach (var (name, text) in books)
        {
            int index = 0;
            foreach (string paragraph in Paragraphs(text))
            {
                index++;
                var match = LastWordPattern().Match(paragraph);
                if (!match.Success) continue;
                string word = match.Groups["word"].Value;
                string context = paragraph[..match.Groups["word"].Index].TrimEnd();
                if (WordPattern().Count(context) < 40 || CommonWords.Contains(word) || word.Length < 3) continue;
                var others = WordPattern().Matches(context).Select(m => m.Value)
                    .Where(w => w.Length >= 3 && !CommonWords.Contains(w) && !w.Equals(word, StringComparison.OrdinalIgnoreCase)
                        && char.IsUpper(w[0]) == char.IsUpper(word[0]) && w.Skip(1).All(char.IsLower))
                    .Distinct(StringComparer.OrdinalIgnoreCase).ToList();
                if (others.Count >= Choices - 1) candidates.Add(($"last-word/{name}/{index}", context, word, others));
            }
        }
        var random = new Random(seed);
        return [.. Sample(candidates, count, random).Select(c => Item(c.Id, c.Context, c.Word, Shuffled(c.Others, random).Take(Choices - 1), random))];
    }

    /// <summary>
    /// Which sentence comes next: three consecutive sentences of a paragraph, then the true fourth and three sentences of
    /// similar length from other paragraphs of the same book (same author and style, so the story has to decide).
    /// </summary>
    public static List<MultipleChoiceItem> NextSentence(IReadOnlyList<(string Name, string Text)> books, int count, int seed)
    {
        var runs = new List<(string Id, int Book, string[] Sentences)>();
        var pools = new List<List<(string Paragraph, string Sentence)>>();
        foreach (var (name, text) in books)
        {
            var pool = new List<(string, string)>();
            pools.Add(pool);
            int index = 0;
            foreach (string paragraph in Paragraphs(text))
            {
                index++;
                string[] sentences = [.. SentenceBreak().Split(paragraph).Select(s => s.Trim()).Where(s => s.Length > 0)];
                string id = $"next-sentence/{name}/{index}";
                foreach (string sentence in sentences.Where(Usable)) pool.Add((id, sentence));
                if (sentences.Length >= 4 && sentences.Take(4).All(Usable)) runs.Add((id, pools.Count - 1, sentences[..4]));
            }
        }
        var random = new Random(seed);
        var items = new List<MultipleChoiceItem>();
        foreach (var (id, book, sentences) in Sample(runs, count, random))
        {
            string truth = sentences[3];
            int words = WordPattern().Count(truth);
            var pool = pools[book];
            var distractors = new List<string>();
            for (int attempt = 0; attempt < 200 && distractors.Count < Choices - 1; attempt++)
            {
                var (paragraph, sentence) = pool[random.Next(pool.Count)];
                int length = WordPattern().Count(sentence);
                if (paragraph != id && length * 2 >= words && length <= words * 2 && !distractors.Contains(sentence) && sentence != truth)
                    distractors.Add(sentence);
            }
            if (distractors.Count == Choices - 1) items.Add(Item(id, string.Join(' ', sentences[..3]), truth, distractors, random));
        }
        return items;

        // prose sentences of 5 to 40 words that start as sentences do (verse fragments and markup do not)
        static bool Usable(string sentence)
        {
            int words = WordPattern().Count(sentence);
            return words >= 5 && words <= 40 && SentenceStart().IsMatch(sentence) && !sentence.AsSpan().ContainsAny("{}|<>");
        }
    }

    /// <summary>
    /// Knowledge questions from a knowledge world's real facts: the relation's answer sentence up to its object is the
    /// context ("The capital of Peru is"), the choices are the object and three other objects of the same relation. The
    /// relations take turns, so people (the most facts) do not crowd out countries and elements.
    /// </summary>
    public static List<MultipleChoiceItem> Knowledge(KnowledgeWorld world, int count, int seed)
    {
        var facts = world.Facts.Where(f => !f.Subject.IsFabricated && f.Object is not null).ToList();
        var objects = facts.GroupBy(f => f.Relation.Name).ToDictionary(g => g.Key, g => g.Select(f => f.Object!).Distinct(StringComparer.Ordinal).ToList());
        var random = new Random(seed);
        var byRelation = facts.GroupBy(f => f.Relation.Name).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => Shuffled(g.ToList(), random)).ToList();
        var turns = Enumerable.Range(0, byRelation.Max(g => g.Count)).SelectMany(i => byRelation.Where(g => i < g.Count).Select(g => g[i]));
        var items = new List<MultipleChoiceItem>();
        foreach (var fact in turns)
        {
            if (items.Count == count) break;
            var accepted = new HashSet<string>(fact.Answers.Append(fact.Object!), StringComparer.OrdinalIgnoreCase);
            // no distractor that is, holds or is held by an accepted answer ("English" against "English, Malay, Tamil and Chinese")
            var others = Shuffled(objects[fact.Relation.Name].Where(o => !accepted.Any(a => o.Contains(a, StringComparison.OrdinalIgnoreCase)
                || a.Contains(o, StringComparison.OrdinalIgnoreCase))).ToList(), random).Take(Choices - 1).ToList();
            if (others.Count < Choices - 1) continue;
            // each choice's whole answer sentence; the context is their common beginning, up to a word boundary
            var sentences = others.Prepend(fact.Object!).Select(o => fact.Relation.Answer(fact with { Object = o })!).ToList();
            int prefix = sentences.Skip(1).Aggregate(sentences[0].Length, (length, s) => Math.Min(length, CommonPrefix(sentences[0], s)));
            prefix = sentences[0].LastIndexOf(' ', Math.Max(0, prefix - 1));
            if (prefix <= 0) continue;
            string context = sentences[0][..prefix];
            var choices = sentences.Select(s => s[(prefix + 1)..]).ToList();
            items.Add(Item($"knowledge/{fact.Id}", context, choices[0], choices.Skip(1), random));
        }
        return items;
    }

    /// <summary>Writes a task's items as JSONL (atomically); returns the count.</summary>
    public static int Write(string path, IEnumerable<MultipleChoiceItem> items) => AtomicFile.WriteJsonLines(path, items, (json, item) =>
    {
        json.WriteString("id", item.Id);
        json.WriteString("context", item.Context);
        json.WriteStartArray("choices");
        foreach (string choice in item.Choices) json.WriteStringValue(choice);
        json.WriteEndArray();
        json.WriteNumber("answer", item.Answer);
    });

    /// <summary>The task list of the files written, for the CORE-style aggregate (<c>lmforge eval --tasks</c>).</summary>
    public static void WriteTaskList(string path, IEnumerable<(string Name, string File)> tasks)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteStartArray("tasks");
            foreach (var (name, file) in tasks)
            {
                json.WriteStartObject();
                json.WriteString("name", name);
                json.WriteString("file", file);
                json.WriteString("format", "multiple-choice");
                json.WriteNumber("fewshot", 0);
                json.WriteString("delimiter", " ");
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        AtomicFile.WriteText(path, System.Text.Encoding.UTF8.GetString(buffer.ToArray()) + "\n");
    }

    // Blank-line separated paragraphs with their line breaks and runs of spaces made single spaces; headings, verse
    // numbering and bracketed notes are not prose and are skipped.
    static IEnumerable<string> Paragraphs(string text)
    {
        foreach (string block in ParagraphBreak().Split(text.Replace("\r", "", StringComparison.Ordinal)))
        {
            string paragraph = Whitespace().Replace(block, " ").Trim();
            if (paragraph.Length == 0 || paragraph.Contains('[', StringComparison.Ordinal) || paragraph.Contains('_', StringComparison.Ordinal)) continue;
            if (paragraph.StartsWith("CHAPTER", StringComparison.OrdinalIgnoreCase) || char.IsDigit(paragraph[0])) continue;
            if (paragraph.Count(char.IsUpper) * 3 > paragraph.Count(char.IsLetter)) continue; // SHOUTED headings and stage directions
            yield return paragraph;
        }
    }

    static MultipleChoiceItem Item(string id, string context, string answer, IEnumerable<string> distractors, Random random)
    {
        var choices = distractors.ToList();
        int position = random.Next(choices.Count + 1);
        choices.Insert(position, answer);
        return new MultipleChoiceItem(id, context, choices, position);
    }

    // count items chosen without replacement in a seeded order (all of them, shuffled, when there are fewer)
    static IEnumerable<T> Sample<T>(IReadOnlyList<T> items, int count, Random random) => Shuffled(items.ToList(), random).Take(count);

    static List<T> Shuffled<T>(List<T> items, Random random)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
        return items;
    }

    static int CommonPrefix(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    [GeneratedRegex(@"\n[ \t]*\n")]
    private static partial Regex ParagraphBreak();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"[A-Za-z]+(?:'[a-z]+)?")]
    private static partial Regex WordPattern();

    // a paragraph ending "... word." (also ! or ?, and a closing quote)
    [GeneratedRegex(@"\b(?<word>[A-Za-z]+)[.!?]['""]?$")]
    private static partial Regex LastWordPattern();

    [GeneratedRegex(@"^['""]?[A-Z][a-z]")]
    private static partial Regex SentenceStart();

    // between sentences: after . ! ? (and a closing quote), before a capital (or an opening quote)
    [GeneratedRegex(@"(?<=[.!?]['""]?)\s+(?=['""]?[A-Z])")]
    private static partial Regex SentenceBreak();
}
