using LmForge.Data.Extraction;

namespace LmForge.Data.Tests.Extraction;

/// <summary>
/// One hand-written page (Extraction/Pages/) per way the extractor used to lose main text or keep furniture, in
/// several languages: each page's main-text snippets must be in the output and its furniture must not.
/// </summary>
public class ExtractionPagesTests
{
    private static string Extract(string page) =>
        new HtmlTextExtractor().Extract(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Extraction", "Pages", page)));

    private static void Check(string text, string[] present, string[] absent)
    {
        foreach (var snippet in present) Assert.Contains(snippet, text, StringComparison.Ordinal);
        foreach (var snippet in absent) Assert.DoesNotContain(snippet, text, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_split_over_sibling_blocks_built_alike_is_kept_with_its_subheadings_lists_and_tables()
    {
        Check(Extract("split-blocks.de.html"),
            ["Der Stadtrat hat am Dienstagabend", "An den großen Kreuzungen", "Was sich für Pendler ändert", "Marktplatz bis Stadtpark entlang des Kanals",
             "Kosten und Zeitplan", "1,2 Mio. Euro", "Baubeginn ist im Mai"],
            ["Startseite", "Stadtbibliothek verlängert", "Impressum"]);
    }

    [Fact]
    public void A_short_question_is_kept_with_the_long_answer_that_outscores_it()
    {
        Check(Extract("forum-thread.es.html"),
            ["las hojas de mi limonero en maceta se ponen amarillas", "Lo más habitual en limoneros", "aceite de neem"],
            ["Registrarse", "Normas"]);
    }

    [Fact]
    public void A_wrapper_named_like_furniture_is_kept_when_it_holds_most_of_the_page_even_with_share_buttons()
    {
        Check(Extract("named-wrapper.fr.html"),
            ["Après huit mois de fermeture", "des tartes aux fruits de saison"],
            ["Partager sur Facebook", "Les plus lus", "Météo"]);
    }

    [Fact]
    public void A_noscript_that_holds_the_only_copy_of_the_article_is_used()
    {
        Check(Extract("noscript-copy.pt.html"),
            ["O pão de queijo é uma das receitas", "asse em forno médio"],
            ["renderBlog", "Todos os direitos"]);
    }

    [Fact]
    public void A_noscript_that_repeats_the_page_stays_out()
    {
        const string paragraph = "The committee met on Tuesday to discuss the budget, the schedule, and the long list of repairs that the library needs.";
        var html = $"<html><body><article><p>{paragraph}</p><p>{paragraph} Again.</p></article><noscript><p>{paragraph}</p><p>Please enable JavaScript to read the comments below this story.</p></noscript></body></html>";
        var text = new HtmlTextExtractor().Extract(html);
        Assert.DoesNotContain("enable JavaScript", text, StringComparison.Ordinal);
    }

    [Fact]
    public void An_article_inside_aside_is_kept_when_it_holds_most_of_the_prose_but_not_of_the_text()
    {
        Check(Extract("aside-article.it.html"),
            ["Il consiglio comunale ha approvato ieri sera", "Le opposizioni hanno votato contro"],
            ["Chiude per lavori il sottopasso", "Partita IVA"]);
    }

    [Fact]
    public void An_accordion_marked_as_a_tablist_keeps_its_answers()
    {
        Check(Extract("faq-accordion.en.html"),
            ["Your band is set by the national valuation office", "split into ten monthly payments", "A person who lives alone gets 25 percent off"],
            ["Contact us", "Open Monday to Friday"]);
    }

    [Fact]
    public void A_tab_bar_of_short_labels_is_still_removed()
    {
        const string paragraph = "The committee met on Tuesday to discuss the budget, the schedule, and the long list of repairs that the library needs.";
        var html = $"<html><body><article><div role=\"tablist\"><span role=\"tab\">Overview</span><span role=\"tab\">Opening hours</span></div><p>{paragraph}</p><p>{paragraph}</p></article></body></html>";
        Assert.DoesNotContain("Opening hours", new HtmlTextExtractor().Extract(html), StringComparison.Ordinal);
    }

    [Fact]
    public void Credit_source_cross_link_and_follow_lines_in_german_are_dropped()
    {
        Check(Extract("credit-lines.de.html"),
            ["Wegen der ungewöhnlich milden Temperaturen", "Obstbauern sehen die frühe Blüte", "Der Wetterdienst erwartet"],
            ["Auch interessant", "So schützen Sie", "Zum Weiterlesen", "Quelle: dpa", "Foto: Stadtarchiv"]);
    }

    [Fact]
    public void Credit_source_cross_link_and_follow_lines_in_spanish_are_dropped()
    {
        Check(Extract("credit-lines.es.html"),
            ["Las bibliotecas municipales abrirán", "La concejala de cultura explicó"],
            ["Lee también", "becas de comedor", "Fuente: Ayuntamiento", "Síguenos en"]);
    }

    [Theory]
    [InlineData("Lire aussi : Le marché de Noël ouvre samedi", true)]
    [InlineData("Source : AFP", true)]
    [InlineData("Leggi anche: Il museo prolunga la mostra", true)]
    [InlineData("Leia também: Como fazer pão caseiro", true)]
    [InlineData("Quelle:dpa", true)]
    [InlineData("Quellenangaben zur Geschichte der Stadt sind im Archiv zu finden", false)]
    [InlineData("Fotografía de la plaza mayor al amanecer", false)]
    [InlineData("Sourcing parts was the hardest step", false)]
    public void Furniture_line_starts_match_whole_words_only(string line, bool furniture)
    {
        Assert.Equal(furniture, BoilerplatePatterns.IsFurnitureLine(line));
    }
}
