using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.Recipes;

/// <summary>The recipe shipped in examples/ loads and validates, so the documented example cannot rot.</summary>
public class ExampleRecipeTests
{
    private static string RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "LmForge.slnx"))) return Path.Combine(dir.FullName, relative);
        }
        throw new DirectoryNotFoundException($"{AppContext.BaseDirectory}: no LmForge.slnx above the test output");
    }

    [Fact]
    public void Fineweb_example_recipe_loads_with_the_documented_stages_and_steps()
    {
        // The recipe and its lists as shipped, plus the crawl/ folder its header comment tells the user to fill.
        using var dir = new TempDirectory();
        string path = dir.File("fineweb-recipe.json");
        File.Copy(RepositoryFile("examples/fineweb-recipe.json"), path);
        Directory.CreateDirectory(dir.File("lists"));
        foreach (var list in Directory.GetFiles(RepositoryFile("examples/lists")))
            File.Copy(list, Path.Combine(dir.File("lists"), Path.GetFileName(list)));
        Directory.CreateDirectory(dir.File("crawl"));

        var recipe = Recipe.Load(path); // Load builds every step, which validates every parameter and referenced file
        Assert.Equal("fineweb-mini", recipe.Name);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(path)!, "work"), recipe.WorkDirectory);
        Assert.Equal(["web", "minhash_signatures", "minhash_buckets", "minhash_cluster", "minhash_filter"], recipe.Stages.Select(s => s.Name));
        Assert.Equal([8, 8, 14, 1, 8], recipe.Stages.Select(s => s.Tasks));
        Assert.Equal(
            ["warc_reader", "url_filter", "html_extractor", "language_filter", "gopher_repetition", "gopher_quality", "c4_quality", "fineweb_quality", "jsonl_writer"],
            recipe.Stage("web").StepTypes);
        Assert.Equal(["jsonl_reader", "minhash_signature"], recipe.Stage("minhash_signatures").StepTypes);
        Assert.Equal(["minhash_buckets"], recipe.Stage("minhash_buckets").StepTypes);
        Assert.Equal(["minhash_cluster"], recipe.Stage("minhash_cluster").StepTypes);
        Assert.Equal(["jsonl_reader", "minhash_filter", "pii_anonymizer", "jsonl_writer"], recipe.Stage("minhash_filter").StepTypes);
        Assert.Equal(Path.Combine(Path.GetDirectoryName(path)!, "removed"), recipe.Stage("web").RemovedDirectory);
        Assert.All(recipe.Stages, stage => Assert.Equal(stage.StepTypes.Count, stage.CreateSteps().Count));

        // Without crawl/ the error names the missing input.
        Directory.Delete(dir.File("crawl"));
        var e = Assert.Throws<RecipeException>(() => Recipe.Load(path));
        Assert.Contains("warc_reader", e.Message, StringComparison.Ordinal);
        Assert.Contains(dir.File("crawl"), e.Message, StringComparison.Ordinal);
    }
}
