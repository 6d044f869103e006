using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;

namespace LmForge.Data.Filters;

/// <summary>
/// Drops pages by their URL, with the rules FineWeb uses (datatrove's URLFilter): a blocked domain (or any parent
/// domain of the host), a blocked host, a blocked URL, a banned word among the URL's words (split on anything
/// that is not a letter or digit), at least <c>soft_word_threshold</c> soft-banned words, or a banned subword
/// anywhere in the URL's letters and digits. Each rule is its own removal reason. Pages without a URL are kept
/// and counted ("no_url").
/// Recipe: <c>{"type": "url_filter", "domains_file": "lists/adult-domains.txt", "banned_words": ["casino"],
/// "soft_banned_words_file": "lists/soft.txt", "soft_word_threshold": 2, "banned_subwords_file": "lists/sub.txt"}</c>.
/// </summary>
[RecipeStep("url_filter")]
public sealed class UrlFilter : DocumentFilter, IPipelineStep
{
    private readonly UrlBlockLists _lists;
    private StepStats? _stats;

    public UrlFilter(StepParameters parameters)
    {
        int threshold = parameters.GetInt("soft_word_threshold", 2);
        if (threshold < 1) throw parameters.Invalid("soft_word_threshold", $"expected a positive count, got {threshold}");
        _lists = new UrlBlockLists
        {
            Domains = UrlBlockLists.FromParameters(parameters, "domains"),
            Subdomains = UrlBlockLists.FromParameters(parameters, "subdomains"),
            Urls = new HashSet<string>(UrlBlockLists.FromParameters(parameters, "urls").Select(NormalizeUrl), StringComparer.Ordinal),
            BannedWords = UrlBlockLists.FromParameters(parameters, "banned_words"),
            SoftBannedWords = UrlBlockLists.FromParameters(parameters, "soft_banned_words"),
            SoftWordThreshold = threshold,
            BannedSubwords = [.. UrlBlockLists.FromParameters(parameters, "banned_subwords").Select(LettersAndDigits).Where(s => s.Length > 0)],
        };
    }

    public UrlFilter(UrlBlockLists lists) => _lists = lists;

    public override string Name => "url_filter";

    // Re-implements IPipelineStep.Run to get at the step stats for the "no_url" counter, then filters as the base does.
    public new IEnumerable<Document> Run(IEnumerable<Document> documents, TaskContext context)
    {
        _stats = context.Stats.For(Name);
        return base.Run(documents, context);
    }

    protected override string? Reject(Document document)
    {
        var url = document.Url;
        if (string.IsNullOrEmpty(url))
        {
            _stats?.Count("no_url");
            return null;
        }
        var lower = url.ToLowerInvariant();
        string? host = Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.IdnHost.ToLowerInvariant().TrimEnd('.') : null;
        if (host is not null)
        {
            if (_lists.Subdomains.Contains(host)) return "blocked_subdomain";
            for (var domain = host; domain.Length > 0;)
            {
                if (_lists.Domains.Contains(domain)) return "blocked_domain";
                int dot = domain.IndexOf('.', StringComparison.Ordinal);
                if (dot < 0) break;
                domain = domain[(dot + 1)..];
            }
        }
        else _stats?.Count("unparsable_url");
        if (_lists.Urls.Count > 0 && _lists.Urls.Contains(NormalizeUrl(lower))) return "blocked_url";

        if (_lists.BannedWords.Count > 0 || _lists.SoftBannedWords.Count > 0)
        {
            var words = SplitWords(lower);
            if (_lists.BannedWords.Overlaps(words)) return "banned_word";
            if (_lists.SoftBannedWords.Count > 0 && words.Count(_lists.SoftBannedWords.Contains) >= _lists.SoftWordThreshold) return "soft_banned_words";
        }
        if (_lists.BannedSubwords.Count > 0)
        {
            var squeezed = LettersAndDigits(lower);
            foreach (var subword in _lists.BannedSubwords)
            {
                if (squeezed.Contains(subword, StringComparison.Ordinal)) return "banned_subword";
            }
        }
        return null;
    }

    internal static HashSet<string> SplitWords(string url)
    {
        var words = new HashSet<string>(StringComparer.Ordinal);
        int start = -1;
        for (int i = 0; i <= url.Length; i++)
        {
            bool word = i < url.Length && char.IsLetterOrDigit(url[i]);
            if (word && start < 0) start = i;
            else if (!word && start >= 0)
            {
                words.Add(url[start..i]);
                start = -1;
            }
        }
        return words;
    }

    private static string LettersAndDigits(string text) => string.Concat(text.Where(char.IsLetterOrDigit)).ToLowerInvariant();

    private static string NormalizeUrl(string url)
    {
        var s = url.Trim().ToLowerInvariant();
        int hash = s.IndexOf('#', StringComparison.Ordinal);
        if (hash >= 0) s = s[..hash];
        return s.TrimEnd('/');
    }
}
