using System.Net;
using System.Text.RegularExpressions;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Anonymization;

/// <summary>
/// Replaces e-mail addresses and public IP addresses in the text, as FineWeb does (datatrove's PIIFormatter):
/// an e-mail becomes one of "email@example.com" / "firstname.lastname@example.org", a public IPv4 or IPv6
/// address one of six fixed placeholder addresses; private and reserved addresses (192.168.x.x, 10.x, ::1, ...)
/// stay. The placeholder is picked by a hash of the original, so runs are reproducible. Counts replacements in
/// the step's counters ("emails_replaced", "ips_replaced").
/// Recipe: <c>{"type": "pii_anonymizer", "emails": true, "ips": true}</c>.
/// </summary>
[RecipeStep("pii_anonymizer")]
public sealed partial class PiiAnonymizer : IPipelineStep
{
    public static readonly string[] EmailReplacements = ["email@example.com", "firstname.lastname@example.org"];

    public static readonly string[] IpReplacements = ["22.214.171.124", "126.96.36.199", "188.8.131.52", "192.168.3.11", "172.16.58.3", "184.108.40.206"];

    public PiiAnonymizer(StepParameters parameters)
    {
        ReplaceEmails = parameters.GetBool("emails", true);
        ReplaceIps = parameters.GetBool("ips", true);
    }

    public PiiAnonymizer() { }

    public string Name => "pii_anonymizer";

    public bool ReplaceEmails { get; init; } = true;

    public bool ReplaceIps { get; init; } = true;

    public IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        var stats = context.Stats.For(Name);
        foreach (var document in documents)
        {
            stats.Received(document);
            var (text, emails, ips) = Anonymize(document.Text);
            if (emails > 0) stats.Count("emails_replaced", emails);
            if (ips > 0) stats.Count("ips_replaced", ips);
            if (emails + ips > 0) stats.Count("documents_changed");
            document.Text = text;
            stats.Kept(document);
            yield return document;
        }
    }

    /// <summary>Returns the text with PII replaced and how many e-mails and IPs were replaced.</summary>
    public (string Text, int Emails, int Ips) Anonymize(string text)
    {
        int emails = 0, ips = 0;
        if (ReplaceEmails && text.Contains('@', StringComparison.Ordinal))
        {
            text = Email().Replace(text, m =>
            {
                emails++;
                return Pick(EmailReplacements, m.Value);
            });
        }
        if (ReplaceIps)
        {
            if (text.Contains('.', StringComparison.Ordinal))
                text = IPv4().Replace(text, m => ReplaceIfPublic(m.Value, ref ips));
            if (text.Contains(':', StringComparison.Ordinal))
                text = IPv6().Replace(text, m => ReplaceIfPublic(m.Value, ref ips));
        }
        return (text, emails, ips);
    }

    private static string ReplaceIfPublic(string candidate, ref int count)
    {
        if (!IPAddress.TryParse(candidate, out var address) || !PublicIpRanges.IsPublic(address)) return candidate;
        count++;
        return Pick(IpReplacements, candidate);
    }

    private static string Pick(string[] choices, string original)
    {
        uint hash = 2166136261;
        foreach (char c in original) hash = (hash ^ c) * 16777619;
        return choices[hash % (uint)choices.Length];
    }

    // Local part: RFC 5322 atoms joined by dots; domain: dot-separated labels of letters, digits and inner hyphens,
    // ending in a label of 2+ letters (so "a@b" or "x@1.5" are not taken for addresses).
    [GeneratedRegex(@"(?<![\w.+-])[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])", RegexOptions.CultureInvariant)]
    private static partial Regex Email();

    [GeneratedRegex(@"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.]*\d)", RegexOptions.CultureInvariant)]
    private static partial Regex IPv4();

    // Candidates only (hex groups and colons, with "::" or 7 colons); IPAddress.TryParse decides.
    [GeneratedRegex(@"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})(?![\w:])", RegexOptions.CultureInvariant)]
    private static partial Regex IPv6();
}
