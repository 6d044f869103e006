using System.Globalization;
using System.Text;

namespace LmForge.Data.Extraction;

/// <summary>
/// The scoring of the article-extraction-benchmark (github.com/scrapinghub/article-extraction-benchmark,
/// evaluate.py): texts are split into word tokens (runs of letters, digits and '_', as Python's <c>\w+</c>),
/// tokens into overlapping 4-gram shingles; per document, true positives are the shingles both texts share (with
/// multiplicity), false positives the extra predicted ones, false negatives the missed true ones, each divided by
/// their sum. Precision and recall are averaged over documents (precision over those with tp+fp &gt; 0, recall
/// over those with tp+fn &gt; 0; 1 when both texts have no shingles), and F1 is computed from the two averages.
/// </summary>
public static class ShingleScore
{
    public const int ShingleSize = 4;

    public readonly record struct Counts(double TruePositive, double FalsePositive, double FalseNegative);

    public sealed record Result(double Precision, double Recall, double F1, double Accuracy, int Documents);

    /// <summary>Python <c>re.findall(r'\w+', text)</c>: letters (L*), numbers (N*) and '_' form words.</summary>
    public static List<string> Tokenize(string text)
    {
        var tokens = new List<string>();
        var current = new StringBuilder();
        foreach (var rune in text.EnumerateRunes())
        {
            var category = Rune.GetUnicodeCategory(rune);
            bool word = rune.Value == '_' || category <= UnicodeCategory.OtherLetter
                || category is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;
            if (word) current.Append(rune.ToString());
            else if (current.Length > 0)
            {
                tokens.Add(current.ToString());
                current.Clear();
            }
        }
        if (current.Length > 0) tokens.Add(current.ToString());
        return tokens;
    }

    private static Dictionary<string, int> Shingles(string text)
    {
        var tokens = Tokenize(text).ToArray();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        // As evaluate.py: a text shorter than n tokens still yields one (shorter) shingle when it has any token.
        int count = Math.Max(1, tokens.Length - ShingleSize + 1);
        for (int i = 0; i < count; i++)
        {
            int end = Math.Min(tokens.Length, i + ShingleSize);
            if (end <= i) break;
            var key = string.Join('\u0001', tokens, i, end - i);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }
        return counts;
    }

    public static Counts Match(string truth, string predicted)
    {
        var t = Shingles(truth);
        var p = Shingles(predicted);
        double tp = 0, fp = 0, fn = 0;
        foreach (var (key, trueCount) in t)
        {
            int predictedCount = p.GetValueOrDefault(key);
            tp += Math.Min(trueCount, predictedCount);
            fn += Math.Max(0, trueCount - predictedCount);
        }
        foreach (var (key, predictedCount) in p) fp += Math.Max(0, predictedCount - t.GetValueOrDefault(key));
        double sum = tp + fp + fn;
        return sum > 0 ? new Counts(tp / sum, fp / sum, fn / sum) : new Counts(0, 0, 0);
    }

    /// <summary>Scores predictions against the truth for every id of the truth (a missing prediction is empty text).</summary>
    public static Result Evaluate(IReadOnlyDictionary<string, string> truth, IReadOnlyDictionary<string, string> predicted)
    {
        double precisionSum = 0, recallSum = 0, accuracySum = 0;
        int precisionCount = 0, recallCount = 0;
        foreach (var (id, trueText) in truth)
        {
            var predictedText = predicted.GetValueOrDefault(id) ?? "";
            var (tp, fp, fn) = Match(trueText, predictedText);
            if (tp + fp > 0) { precisionSum += Precision(tp, fp, fn); precisionCount++; }
            if (tp + fn > 0) { recallSum += Recall(tp, fp, fn); recallCount++; }
            accuracySum += Tokenize(trueText).SequenceEqual(Tokenize(predictedText)) ? 1 : 0;
        }
        double precision = precisionCount > 0 ? precisionSum / precisionCount : 0;
        double recall = recallCount > 0 ? recallSum / recallCount : 0;
        double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
        return new Result(precision, recall, f1, truth.Count > 0 ? accuracySum / truth.Count : 0, truth.Count);
    }

    private static double Precision(double tp, double fp, double fn) => fp == 0 && fn == 0 ? 1 : tp == 0 && fp == 0 ? 0 : tp / (tp + fp);

    private static double Recall(double tp, double fp, double fn) => fp == 0 && fn == 0 ? 1 : tp == 0 && fn == 0 ? 0 : tp / (tp + fn);
}
