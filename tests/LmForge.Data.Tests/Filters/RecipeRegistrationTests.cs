using LmForge.Data.Dedup;
using LmForge.Data.Filters.Quality;
using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.Filters;

// The stages of this area as a recipe names them, with their parameters checked before any work starts.
public class RecipeRegistrationTests
{
    [Theory]
    [InlineData("gopher_repetition", "{}")]
    [InlineData("gopher_quality", "{}")]
    [InlineData("c4_quality", "{}")]
    [InlineData("fineweb_quality", "{}")]
    [InlineData("language_filter", "{}")]
    [InlineData("minhash_signature", """{"folder": "mh"}""")]
    [InlineData("minhash_buckets", """{"folder": "mh"}""")]
    [InlineData("minhash_cluster", """{"folder": "mh"}""")]
    [InlineData("minhash_filter", """{"folder": "mh"}""")]
    [InlineData("exact_dedup_signature", """{"folder": "ex"}""")]
    [InlineData("exact_dedup_reduce", """{"folder": "ex"}""")]
    [InlineData("exact_dedup_filter", """{"folder": "ex"}""")]
    public void EveryStage_IsRegistered(string type, string json)
    {
        Assert.Contains(type, StepRegistry.Types);
        Assert.NotNull(StepRegistry.Create(StepParameters.FromJson(type, json)));
    }

    [Theory]
    [InlineData("gopher_repetition", """{"dup_line_frac": 1.5}""", "dup_line_frac")]
    [InlineData("gopher_quality", """{"min_doc_words": -3}""", "min_doc_words")]
    [InlineData("gopher_quality", """{"min_doc_word": 30}""", "min_doc_word")]
    [InlineData("c4_quality", """{"min_num_sentences": -2}""", "min_num_sentences")]
    [InlineData("fineweb_quality", """{"line_punct_thr": "high"}""", "line_punct_thr")]
    [InlineData("language_filter", """{"languages": ["en", "xx"]}""", "'xx' is not a language of the model")]
    [InlineData("minhash_signature", """{"folder": "mh", "buckets": 0}""", "buckets must be in 1..999")]
    [InlineData("minhash_filter", "{}", "folder")]
    public void BadParameters_FailNamingTheField(string type, string json, string expected)
    {
        var error = Assert.Throws<RecipeException>(() => StepRegistry.Create(StepParameters.FromJson(type, json)));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Parameters_ReachTheFilters()
    {
        var text = "the of " + new TextFactory().Words(28, 5);
        Assert.Equal("gopher_short_doc", TextFactory.Reason(StepRegistry.Create(StepParameters.FromJson("gopher_quality", "{}")), text));
        Assert.Null(TextFactory.Reason(StepRegistry.Create(StepParameters.FromJson("gopher_quality", """{"min_doc_words": 30}""")), text));
        Assert.Null(TextFactory.Reason(StepRegistry.Create(StepParameters.FromJson("gopher_quality", """{"min_doc_words": 0}""")), text));
        var options = GopherRepetitionOptions.From(StepParameters.FromJson("gopher_repetition", """{"top_3_gram": 0, "dup_7_gram": 0.5}"""));
        Assert.Equal([(2, 0.20), (4, 0.16)], options.TopNGrams);
        Assert.Contains((7, 0.5), options.DuplicatedNGrams);
        var config = MinHashConfig.From(StepParameters.FromJson("minhash_signature", """{"folder": "x", "buckets": 20, "hashes_per_bucket": 5, "n_grams": 3}"""));
        Assert.Equal((3, 20, 5), (config.NGram, config.Buckets, config.HashesPerBucket));
    }
}
