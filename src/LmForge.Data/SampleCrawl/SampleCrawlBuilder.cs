using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using LmForge.Data.Extraction;
using LmForge.Data.Filters.Quality;
using LmForge.Data.Pipeline;
using LmForge.Data.Recipes;
using LmForge.Data.Writers;

namespace LmForge.Data.SampleCrawl;

/// <summary>What <see cref="SampleCrawlBuilder"/> builds.</summary>
public sealed record SampleCrawlOptions
{
    /// <summary>Where the WARC files and sample-crawl.json go (created; must hold no WARC files yet).</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Content pages (sections of the Debian Reference, about half English); planted pages come on top.</summary>
    public int Pages { get; init; } = 160;

    public int Seed { get; init; } = 1;

    /// <summary>WARC files the records are spread over (fewer when there are fewer records).</summary>
    public int Files { get; init; } = 4;

    public string SourceDirectory { get; init; } = SampleCrawlBuilder.DebianReferenceDirectory;
}

/// <summary>One page of the sample crawl as sample-crawl.json lists it.</summary>
public sealed record SampleCrawlPage(
    string Url, string Kind, string Language, string Charset, string File, string? DuplicateOf, int Emails, int Ips, IReadOnlyList<string> Pii);

/// <summary>What was written: the files, every page with what was planted in it, and the counts.</summary>
public sealed record SampleCrawlReport(string OutputDirectory, IReadOnlyList<string> Files, IReadOnlyList<SampleCrawlPage> Pages, long Bytes)
{
    public int Count(string kind) => Pages.Count(p => p.Kind == kind);

    public const string Content = "content", ExactDuplicate = "exact_duplicate", NearDuplicate = "near_duplicate",
        Boilerplate = "boilerplate", BlockedUrl = "blocked_url";

    public string ManifestPath => Path.Combine(OutputDirectory, SampleCrawlBuilder.ManifestName);
}

/// <summary>A page as a crawler fetched it: its URL, the body bytes and the charset they are in (for Content-Type).</summary>
public sealed record CrawlPage(string Url, byte[] Body, string Charset);

/// <summary>Progress: the phase ("reading pages", "writing records") and how far it is.</summary>
public readonly record struct SampleCrawlProgress(string Phase, int Done, int Total);

/// <summary>
/// Builds a small, realistic web crawl from HTML that Debian packages install (the Debian Reference in eight
/// languages, <c>debian-reference-{en,fr,de,ja,es,it,pt,zh-cn}</c>): each section of a chapter is one page under an
/// invented URL, wrapped in site navigation as a web page is, and stored as Common Crawl ships pages: WARC/1.1
/// files of gzip-per-record warcinfo, request and response records (HTTP/1.1 headers with the page's real
/// charset; a few French, German, Spanish, Italian and Portuguese pages re-encoded to windows-1252 or ISO-8859-1,
/// a Japanese one to Shift_JIS and a Chinese one to GBK). Planted so that every stage of a FineWeb recipe has work:
/// exact copies and near copies (a few words changed) of English pages under mirror URLs, e-mail and public IP
/// addresses in English pages, navigation-only pages, and pages on a blocked domain or with banned words in the URL.
/// The same seed gives the same bytes. Files are written under temporary names and renamed when complete;
/// sample-crawl.json lists every page and what was planted in it.
/// </summary>
public sealed partial class SampleCrawlBuilder(SampleCrawlOptions options)
{
    public const string DebianReferenceDirectory = "/usr/share/debian-reference";
    public const string ManifestName = "sample-crawl.json";
    public static readonly string[] Languages = ["en", "fr", "de", "ja", "es", "it", "pt", "zh-cn"];
    public static readonly DateTimeOffset CrawlStart = new(2024, 5, 1, 0, 0, 0, TimeSpan.Zero);
    private const string Site = "https://www.debian.org/doc/manuals/debian-reference/";

    public IProgress<SampleCrawlProgress>? Progress { get; init; }

    /// <summary>The apt-get command that installs the pages, for error messages and the README.</summary>
    public static string InstallCommand(IEnumerable<string> languages) =>
        "sudo apt-get install " + string.Join(" ", languages.Select(l => "debian-reference-" + l));

    private sealed class Page
    {
        public required string Url;
        public required string Kind;
        public required string Language;
        public required string Html;
        public string Title = "";
        public string Charset = "UTF-8";
        public string? DuplicateOf;
        public List<string> Pii = [];
        public int Emails, Ips;
        public double Prose; // share of the section's text in <p> elements: a stand-in for "passes quality filters"
        public int Words;
    }

    public SampleCrawlReport Build()
    {
        if (options.Pages < 1) throw new RecipeException($"--pages: expected a positive page count, got {options.Pages}");
        if (options.Files < 1) throw new RecipeException($"--files: expected a positive file count, got {options.Files}");
        CheckSource();
        string output = Path.GetFullPath(options.OutputDirectory);
        if (Directory.Exists(output) && Directory.EnumerateFiles(output, "*.warc*").Any())
            throw new RecipeException($"{output} already holds WARC files: remove them or choose another --out");

        var random = new Random(options.Seed);
        var pages = ReadContentPages(random);
        var planted = Plant(pages, random);
        var all = pages.Concat(planted).ToList();
        Shuffle(all, random);
        return Write(output, all, random);
    }

    private void CheckSource()
    {
        string dir = options.SourceDirectory;
        var missing = Languages.Where(l => !Directory.Exists(dir) || !Directory.EnumerateFiles(dir, $"ch*.{l}.html").Any()).ToList();
        if (missing.Count > 0)
            throw new RecipeException($"{dir}: no Debian Reference pages for {string.Join(", ", missing)}: install them with `{InstallCommand(missing)}`");
    }

    // About half the pages English (as many as there are), the rest spread over the other languages; per language, sections are taken
    // from the chapters in a seeded order, a few per chapter so that a small crawl still spans several chapters.
    private List<Page> ReadContentPages(Random random)
    {
        var quota = new Dictionary<string, int>();
        int english = (options.Pages + 1) / 2;
        quota["en"] = english;
        var others = Languages.Where(l => l != "en").ToArray();
        for (int i = 0; i < options.Pages - english; i++) quota[others[i % others.Length]] = quota.GetValueOrDefault(others[i % others.Length]) + 1;

        var parser = new HtmlParser();
        var pages = new List<Page>();
        int done = 0;
        foreach (var language in Languages)
        {
            int want = quota.GetValueOrDefault(language);
            if (want == 0) continue;
            var chapters = Directory.GetFiles(options.SourceDirectory, $"*.{language}.html")
                .Where(f => !Path.GetFileName(f).StartsWith("index.", StringComparison.Ordinal))
                .Order(StringComparer.Ordinal).ToList();
            Shuffle(chapters, random);
            int perChapter = Math.Max(2, (want + chapters.Count - 1) / chapters.Count + 1);
            var leftOver = new List<Page>();
            var taken = new List<Page>();
            foreach (var chapter in chapters)
            {
                if (taken.Count >= want) break;
                var sections = Sections(parser, chapter, language);
                var chosen = sections.Select((s, i) => (s, key: random.Next())).OrderBy(x => x.key).Take(perChapter).Select(x => x.s).ToHashSet();
                foreach (var section in sections)
                {
                    if (chosen.Contains(section) && taken.Count < want) taken.Add(section);
                    else leftOver.Add(section);
                }
                Progress?.Report(new SampleCrawlProgress("reading pages", done + Math.Min(taken.Count, want), options.Pages));
            }
            taken.AddRange(leftOver.Take(want - taken.Count));
            pages.AddRange(taken);
            done += want;
            // English comes first: what it lacks (it has about 90 sections) goes to the other languages.
            if (language == "en")
                for (int i = 0; i < want - taken.Count; i++) quota[others[i % others.Length]] = quota.GetValueOrDefault(others[i % others.Length]) + 1;
            Progress?.Report(new SampleCrawlProgress("reading pages", done, options.Pages));
        }
        Progress?.Report(new SampleCrawlProgress("reading pages", options.Pages, options.Pages));
        return pages;
    }

    private static List<Page> Sections(HtmlParser parser, string chapterFile, string language)
    {
        // DocBook writes XHTML; an HTML parser would leave its empty anchors (<a id="x"/>) open and copy them into
        // everything that follows, so they are closed first.
        var xhtml = SelfClosingAnchor().Replace(File.ReadAllText(chapterFile, Encoding.UTF8), "<a $1></a>");
        var document = parser.ParseDocument(xhtml);
        string chapter = Path.GetFileName(chapterFile).Split('.')[0];
        var container = document.QuerySelector("body > div.chapter, body > div.appendix, body > div.preface");
        if (container is null) return [];
        string navHeader = document.QuerySelector("div.navheader")?.OuterHtml ?? "";
        string navFooter = document.QuerySelector("div.navfooter")?.OuterHtml ?? "";
        string chapterTitle = container.QuerySelector("h1, h2")?.TextContent.Trim() ?? chapter;
        var sections = container.Children.Where(e => e.LocalName == "div" && e.ClassList.Contains("section")).ToList();
        var parts = sections.Count > 0 ? sections : [container];
        var pages = new List<Page>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in parts)
        {
            string title = Collapse(part.QuerySelector("h2, h1")?.TextContent ?? chapterTitle);
            string id = part.QuerySelectorAll("h2 a[id], h1 a[id]").Select(a => Slug(a.GetAttribute("id")!)).FirstOrDefault(used.Add)
                ?? $"{chapter}-{pages.Count + 1}";
            string text = part.TextContent;
            int paragraphs = part.QuerySelectorAll("p").Sum(p => p.TextContent.Length);
            pages.Add(new Page
            {
                Url = $"{Site}{language}/{chapter}/{id}.html",
                Kind = SampleCrawlReport.Content,
                Language = language,
                Title = title,
                Html = Wrap(language, title, navHeader + "\n<div class=\"chapter\">\n" + part.OuterHtml + "\n</div>\n" + navFooter),
                Prose = text.Length == 0 ? 0 : (double)paragraphs / text.Length,
                Words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length,
            });
        }
        return pages;
    }

    [System.Text.RegularExpressions.GeneratedRegex("<a ([^<>]*?)\\s*/>")]
    private static partial System.Text.RegularExpressions.Regex SelfClosingAnchor();

    private static string Collapse(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static string Slug(string id)
    {
        var s = new StringBuilder();
        foreach (char c in id.TrimStart('_')) s.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '-');
        return s.Length == 0 ? "page" : s.ToString();
    }

    private const string CharsetPlaceholder = "{{charset}}";

    // The site around every page: a header with the site's navigation, the page, a footer. The extractor should keep
    // only the page.
    private static string Wrap(string language, string title, string body) => $"""
        <!DOCTYPE html>
        <html lang="{language}">
        <head>
        <meta charset="{CharsetPlaceholder}">
        <title>{WebUtility.HtmlEncode(title)} — Debian Reference</title>
        <link rel="stylesheet" href="/doc/manuals/debian-reference/debian-reference.css">
        </head>
        <body>
        <header id="site-header">
        <nav class="site-nav"><ul><li><a href="/">Debian</a></li><li><a href="/intro/about">About</a></li><li><a href="/News/">News</a></li><li><a href="/distrib/">Getting Debian</a></li><li><a href="/support">Support</a></li><li><a href="/devel/">Developers' Corner</a></li><li><a href="/doc/">Documentation</a></li></ul></nav>
        <form class="search" action="/search"><input type="search" name="q" placeholder="Search"></form>
        </header>
        {body}
        <footer id="site-footer">
        <p><a href="/contact">Contact Us</a> · <a href="/legal/privacy">Privacy</a> · <a href="/legal/">Legal</a> · <a href="/intro/organization">Organization</a></p>
        <p>Copyright © 1997-2024 SPI and others; See license terms</p>
        </footer>
        </body>
        </html>
        """;

    private static readonly string[] FirstNames = ["anna", "bruno", "chloe", "dmitri", "elena", "farid", "greta", "hugo", "ines", "jonas", "kaori", "lucas"];
    private static readonly string[] LastNames = ["berger", "costa", "dubois", "eriksen", "fischer", "garcia", "hansen", "ivanova", "jansen", "kowalski"];
    private static readonly string[] MailDomains = ["lists.debian-users.example.org", "mail.opensource-club.example.net", "sysadmins.example.com", "university.example.edu"];
    private static readonly int[] PublicFirstOctets = [23, 45, 62, 77, 81, 93, 109, 130, 145, 151, 185, 193, 212, 217];
    private static readonly string[] MirrorHosts = ["docs.linux-mirror.example.org", "debian-notes.example.net", "mirrors.opensource-archive.example.com", "wiki.sysadmin-club.example.org"];
    private static readonly string[] Replacements = ["usually", "often", "simply", "carefully", "quickly", "certainly", "normally", "also"];

    private static string Email(Random random) =>
        $"{FirstNames[random.Next(FirstNames.Length)]}.{LastNames[random.Next(LastNames.Length)]}@{MailDomains[random.Next(MailDomains.Length)]}";

    private static string PublicIp(Random random) =>
        $"{PublicFirstOctets[random.Next(PublicFirstOctets.Length)]}.{random.Next(1, 255)}.{random.Next(1, 255)}.{random.Next(1, 255)}";

    // Inserts html after the first paragraph of the section (before its first paragraph when it has one only).
    private static string InsertAfterFirstParagraph(string html, string insert)
    {
        int section = html.IndexOf("<div class=\"chapter\">", StringComparison.Ordinal);
        int end = html.IndexOf("</p>", Math.Max(section, 0), StringComparison.Ordinal);
        if (end < 0) end = html.IndexOf("</footer>", StringComparison.Ordinal) - "</p>".Length;
        return html.Insert(end + "</p>".Length, "\n" + insert);
    }

    private List<Page> Plant(List<Page> pages, Random random)
    {
        int n = pages.Count;
        // Duplicates and PII go into English pages that FineWeb's language and quality filters (defaults) keep, so that
        // they reach the dedup and PII stages; then into the most paragraph-like English pages.
        var english = pages.Where(p => p.Language == "en").ToList();
        var passing = PassingQualityFilters(english);
        var prose = english.Where(p => passing.Contains(p.Url)).OrderBy(p => p.Url, StringComparer.Ordinal).ToList();
        Shuffle(prose, random);
        prose.AddRange(english.Where(p => !passing.Contains(p.Url)).OrderByDescending(p => p.Words >= 250).ThenByDescending(p => p.Prose).ThenBy(p => p.Url, StringComparer.Ordinal));
        int exact = Math.Max(1, n / 40), near = Math.Max(1, n / 40), pii = Math.Max(1, n / 40), boilerplate = Math.Max(1, n / 40);
        // Sources of copies and pages with PII are distinct while enough pages pass the filters; when too few do,
        // PII goes into sources of copies (planted first, so that the copies carry it too, as a mirror's would).
        var sources = prose.Take(exact + near).ToList();
        while (sources.Count < exact + near) sources.Add(prose[random.Next(prose.Count)]);
        var piiPages = passing.Count >= exact + near + pii
            ? prose.Skip(exact + near).Take(pii).ToList()
            : Enumerable.Range(0, Math.Min(pii, Math.Max(1, passing.Count))).Select(i => prose[i]).ToList();
        foreach (var page in piiPages)
        {
            string email = Email(random), ip1 = PublicIp(random), ip2 = PublicIp(random);
            page.Html = InsertAfterFirstParagraph(page.Html,
                $"<p>Corrections to this section are welcome: write to {email}. The examples were checked on the package mirror at {ip1} and on the backup server at {ip2}.</p>");
            page.Pii = [email, ip1, ip2];
            page.Emails = 1;
            page.Ips = 2;
        }
        var planted = new List<Page>();
        Page CopyOf(Page source, string url, string kind, string html) => new()
        {
            Url = url, Kind = kind, Language = source.Language, Html = html, Title = source.Title, DuplicateOf = source.Url,
            Pii = source.Pii, Emails = source.Emails, Ips = source.Ips,
        };
        for (int i = 0; i < exact; i++)
            planted.Add(CopyOf(sources[i], $"https://{MirrorHosts[i % MirrorHosts.Length]}/debian-reference/{PathTail(sources[i].Url)}",
                SampleCrawlReport.ExactDuplicate, sources[i].Html));
        for (int i = 0; i < near; i++)
        {
            var source = sources[exact + i];
            planted.Add(CopyOf(source, $"https://{MirrorHosts[(i + 2) % MirrorHosts.Length]}/manuals/{PathTail(source.Url).Replace('/', '-')}",
                SampleCrawlReport.NearDuplicate, ChangeWords(source.Html, random, 5)));
        }
        string[] kinds = ["tags", "archive", "sitemap", "login"];
        for (int i = 0; i < boilerplate; i++)
        {
            string kind = kinds[i % kinds.Length];
            var links = pages.Where(p => p.Language == "en").OrderBy(_ => random.Next()).Take(12)
                .Select(p => $"<li><a href=\"{p.Url}\">{WebUtility.HtmlEncode(p.Title)}</a></li>");
            string body = $"""
                <div class="navheader"><a href="{Site}en/">Debian Reference</a> › {kind}</div>
                <nav class="sidebar"><h3>Browse</h3><ul>{string.Join("", links)}</ul></nav>
                <div class="pagination"><a href="?page=1">1</a> <a href="?page=2">2</a> <a href="?page=3">3</a> <a href="?page=2">Next »</a></div>
                """;
            planted.Add(new Page
            {
                Url = $"{Site}en/{kind}/{(i / kinds.Length) + 1}.html", Kind = SampleCrawlReport.Boilerplate, Language = "en",
                Html = Wrap("en", $"{kind} — page {(i / kinds.Length) + 1}", body), Title = kind,
            });
        }
        // Pages a URL filter removes: a blocked domain (the example recipe's list holds spam-farm.example), a banned
        // word, and two soft-banned words.
        string[] spamUrls = ["https://www.spam-farm.example/debian/guide.html", "https://casino-bonus.example.com/linux/debian-reference.html",
            "https://hot-deals.example.net/live/debian-packages.html"];
        foreach (var url in spamUrls)
        {
            var source = prose[random.Next(prose.Count)];
            planted.Add(CopyOf(source, url, SampleCrawlReport.BlockedUrl, source.Html));
        }

        // Legacy charsets: Latin pages (accented letters guaranteed) in windows-1252 or ISO-8859-1, one Japanese page
        // in Shift_JIS, one Chinese page in GBK.
        var latin = pages.Where(p => p.Language is "fr" or "de" or "es" or "it" or "pt").ToList();
        int legacy = Math.Min(latin.Count, Math.Max(2, n / 20));
        foreach (var (page, i) in latin.OrderBy(_ => random.Next()).Take(legacy).Select((p, i) => (p, i)))
            page.Charset = i % 2 == 0 ? "windows-1252" : "ISO-8859-1";
        if (pages.FirstOrDefault(p => p.Language == "ja") is { } japanese) japanese.Charset = "Shift_JIS";
        if (pages.FirstOrDefault(p => p.Language == "zh-cn") is { } chinese) chinese.Charset = "GBK";
        return planted;
    }

    private static HashSet<string> PassingQualityFilters(List<Page> pages)
    {
        var context = new TaskContext(0, 1, new PipelineStats());
        IEnumerable<Pipeline.Document> stream = pages.Select(p => new Pipeline.Document(p.Url, p.Html.Replace(CharsetPlaceholder, "UTF-8", StringComparison.Ordinal)) { Url = p.Url });
        IPipelineStep[] steps = [new HtmlExtractor(), new LanguageId.LanguageFilter(LanguageId.LanguageIdModel.BuiltIn, ["en"], 0.65), new GopherRepetitionFilter(), new GopherQualityFilter(), new C4QualityFilter(), new FineWebQualityFilter()];
        foreach (var step in steps) stream = step.Run(stream, context);
        return stream.Select(d => d.Url!).ToHashSet(StringComparer.Ordinal);
    }

    private static string PathTail(string url) => url[(url.IndexOf("/debian-reference/", StringComparison.Ordinal) + "/debian-reference/".Length)..];

    // Changes `count` words of the first paragraphs: each a different word of 5 or more letters, replaced by an adverb.
    private static string ChangeWords(string html, Random random, int count)
    {
        var result = new StringBuilder(html);
        int position = html.IndexOf("<div class=\"chapter\">", StringComparison.Ordinal);
        int changed = 0;
        while (changed < count)
        {
            int p = html.IndexOf("<p>", position, StringComparison.Ordinal);
            if (p < 0) break;
            int end = html.IndexOf("</p>", p, StringComparison.Ordinal);
            // A plain word between spaces, outside tags.
            int start = p + 3;
            var words = new List<(int Start, int Length)>();
            int depth = 0;
            for (int i = start; i < end; i++)
            {
                char c = html[i];
                if (c == '<') depth++;
                else if (c == '>') depth--;
                else if (depth == 0 && char.IsAsciiLetterLower(c) && html[i - 1] == ' ')
                {
                    int j = i;
                    while (j < end && char.IsAsciiLetter(html[j])) j++;
                    if (j - i >= 5 && j < end && html[j] == ' ') words.Add((i, j - i));
                    i = j - 1;
                }
            }
            if (words.Count > 0)
            {
                var (s, length) = words[random.Next(words.Count)];
                string replacement = Replacements[random.Next(Replacements.Length)];
                int shift = result.Length - html.Length;
                result.Remove(s + shift, length).Insert(s + shift, replacement);
                changed++;
            }
            position = end;
        }
        return result.ToString();
    }

    private static void Shuffle<T>(List<T> list, Random random)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }

    private SampleCrawlReport Write(string output, List<Page> pages, Random random)
    {
        int fileCount = Math.Min(options.Files, Math.Max(1, pages.Count / 8));
        var records = pages.Select(p =>
        {
            string html = p.Html.Replace(CharsetPlaceholder, p.Charset, StringComparison.Ordinal);
            return new CrawlPage(p.Url, p.Charset == "UTF-8" ? Encoding.UTF8.GetBytes(html) : LegacyCharset.Encode(html, p.Charset), p.Charset);
        }).ToList();
        var paths = WriteWarcFiles(output, $"sample-crawl-{options.Seed}", records, fileCount, random.Next(), Progress);
        var listed = pages.Select((p, i) => new SampleCrawlPage(p.Url, p.Kind, p.Language, p.Charset, Path.GetFileName(paths[i % fileCount]), p.DuplicateOf,
            p.Emails, p.Ips, p.Pii)).ToList();
        var report = new SampleCrawlReport(output, paths, listed, paths.Sum(f => new FileInfo(f).Length));
        WriteManifest(report);
        return report;
    }

    /// <summary>
    /// Writes pages as a crawler would: <paramref name="files"/> WARC/1.1 files <c>{stem}-00000.warc.gz</c>, ...
    /// (gzip per record), page i in file i % files, each file a warcinfo record then a request and a response record
    /// per page (HTTP/1.1 200 with Date, Server, Content-Type with the charset, Content-Length; WARC-Concurrent-To,
    /// WARC-IP-Address, sha1 block and payload digests), record ids, dates and addresses drawn from
    /// <paramref name="seed"/>. Files are written as "{stem}-00000.partial" (which no "*.warc*" glob matches) and renamed when all are complete.
    /// </summary>
    public static IReadOnlyList<string> WriteWarcFiles(string directory, string stem, IReadOnlyList<CrawlPage> pages, int files, int seed,
        IProgress<SampleCrawlProgress>? progress = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(files, 1);
        Directory.CreateDirectory(directory);
        var random = new Random(seed);
        var names = Enumerable.Range(0, files).Select(i => $"{stem}-{i:D5}.warc.gz").ToArray();
        var ids = SeededIds(random.Next());
        var streams = new FileStream[files];
        var writers = new WarcWriter[files];
        var warcinfo = new Guid[files];
        try
        {
            for (int f = 0; f < files; f++)
            {
                streams[f] = File.Create(Partial(directory, names[f]));
                writers[f] = new WarcWriter(streams[f], gzipPerRecord: true, ids);
                warcinfo[f] = writers[f].WriteWarcinfo(CrawlStart,
                    $"software: LmForge sample-crawl\r\nformat: WARC File Format 1.1\r\n" +
                    $"conformsTo: https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/\r\n" +
                    $"isPartOf: {stem}\r\nfilename: {names[f]}\r\n" +
                    $"description: pages of the Debian Reference (Debian packages debian-reference-*)\r\n" +
                    $"robots: checked via crawler-commons\r\n");
            }
            var date = CrawlStart;
            for (int i = 0; i < pages.Count; i++)
            {
                date = date.AddSeconds(random.Next(1, 30));
                WritePage(writers[i % files], warcinfo[i % files], pages[i], date, random);
                if (i % 8 == 0 || i == pages.Count - 1) progress?.Report(new SampleCrawlProgress("writing records", i + 1, pages.Count));
            }
        }
        finally
        {
            foreach (var writer in writers) writer?.Dispose();
            foreach (var stream in streams) stream?.Dispose();
        }
        var paths = names.Select(n => Path.Combine(directory, n)).ToArray();
        foreach (var path in paths) File.Move(Partial(directory, Path.GetFileName(path)), path, overwrite: true);
        return paths;
    }

    // "x-00000.partial", not "x-00000.warc.gz.partial": a reader's "*.warc*" must not pick up an unfinished file.
    private static string Partial(string directory, string name) => Path.Combine(directory, name.Replace(".warc.gz", "", StringComparison.Ordinal) + ".partial");

    private static void WritePage(WarcWriter writer, Guid warcinfo, CrawlPage page, DateTimeOffset date, Random random)
    {
        byte[] body = page.Body;
        var uri = new Uri(page.Url);
        string httpDate = date.UtcDateTime.ToString("r", CultureInfo.InvariantCulture);
        var request = Encoding.ASCII.GetBytes(
            $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Host}\r\nUser-Agent: LmForge-sample-crawl/1.0 (+https://github.com/lmforge)\r\n" +
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\nAccept-Language: en-US,en;q=0.5\r\n" +
            "Accept-Encoding: br,gzip\r\nConnection: Keep-Alive\r\n\r\n");
        string ip = $"{PublicFirstOctets[random.Next(PublicFirstOctets.Length)]}.{random.Next(1, 255)}.{random.Next(1, 255)}.{random.Next(1, 255)}";
        var requestId = writer.WriteRecord("request", page.Url, date, "application/http; msgtype=request", request,
            [("WARC-Warcinfo-ID", $"<urn:uuid:{warcinfo:D}>"), ("WARC-IP-Address", ip), ("WARC-Block-Digest", Sha1(request))]);
        var head = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nDate: {httpDate}\r\nServer: Apache\r\nLast-Modified: Sat, 04 Feb 2023 10:21:33 GMT\r\n" +
            $"Vary: Accept-Encoding\r\nContent-Type: text/html; charset={page.Charset}\r\nContent-Length: {body.Length}\r\n" +
            "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n");
        byte[] block = [.. head, .. body];
        writer.WriteRecord("response", page.Url, date, "application/http; msgtype=response", block,
            [("WARC-Warcinfo-ID", $"<urn:uuid:{warcinfo:D}>"), ("WARC-Concurrent-To", $"<urn:uuid:{requestId:D}>"), ("WARC-IP-Address", ip),
             ("WARC-Block-Digest", Sha1(block)), ("WARC-Payload-Digest", Sha1(body)), ("WARC-Identified-Payload-Type", "text/html")]);
    }

    // "sha1:" and the base32 digest, as Common Crawl writes WARC-Block-Digest and WARC-Payload-Digest.
    private static string Sha1(byte[] data)
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var hash = SHA1.HashData(data);
        var s = new StringBuilder("sha1:");
        int buffer = 0, bits = 0;
        foreach (byte b in hash)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                s.Append(alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }
        if (bits > 0) s.Append(alphabet[(buffer << (5 - bits)) & 31]);
        return s.ToString();
    }

    private static Func<Guid> SeededIds(int seed)
    {
        var random = new Random(seed);
        return () =>
        {
            var bytes = new byte[16];
            random.NextBytes(bytes);
            bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4
            bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
            return new Guid(bytes);
        };
    }

    private static void WriteManifest(SampleCrawlReport report)
    {
        var manifest = new
        {
            files = report.Files.Select(Path.GetFileName),
            counts = new
            {
                pages = report.Pages.Count,
                content = report.Count(SampleCrawlReport.Content),
                exact_duplicates = report.Count(SampleCrawlReport.ExactDuplicate),
                near_duplicates = report.Count(SampleCrawlReport.NearDuplicate),
                boilerplate = report.Count(SampleCrawlReport.Boilerplate),
                blocked_urls = report.Count(SampleCrawlReport.BlockedUrl),
                pii_pages = report.Pages.Count(p => p.Pii.Count > 0),
                emails = report.Pages.Sum(p => p.Emails),
                ips = report.Pages.Sum(p => p.Ips),
                languages = report.Pages.GroupBy(p => p.Language).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
                charsets = report.Pages.GroupBy(p => p.Charset).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()),
            },
            pages = report.Pages.Select(p => new
            {
                url = p.Url, kind = p.Kind, language = p.Language, charset = p.Charset, file = p.File, duplicate_of = p.DuplicateOf,
                pii = p.Pii,
            }),
        };
        string path = report.ManifestPath;
        File.WriteAllText(path + ".partial", JsonSerializer.Serialize(manifest, new JsonSerializerOptions { WriteIndented = true }));
        File.Move(path + ".partial", path, overwrite: true);
    }
}
