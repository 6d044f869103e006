using LmForge.Data.Recipes;

namespace LmForge.Data.Tests.Recipes;

public class RecipeTests
{
    private static RecipeException Rejects(string json, TempDirectory dir) =>
        Assert.Throws<RecipeException>(() => Recipe.Parse(json, dir.File("recipe.json")));

    private static string OneStage(string steps) => $$"""{"stages": [{"name": "s", "tasks": 2, "steps": [{{steps}}]}]}""";

    [Fact]
    public void Valid_recipe_loads_with_relative_paths_resolved_against_its_directory()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File("in"));
        var recipe = Recipe.Parse("""
            {"name": "r", "work_dir": "w", "stages": [
              {"name": "a", "tasks": 3, "steps": [{"type": "jsonl_reader", "path": "in"}, {"type": "jsonl_writer", "path": "mid"}]},
              {"name": "b", "steps": [{"type": "jsonl_reader", "path": "mid"}, {"type": "jsonl_writer", "path": "out", "compress": false}]}
            ]}
            """, dir.File("recipe.json"));
        Assert.Equal(Path.Combine(dir.Path, "w"), recipe.WorkDirectory);
        Assert.Equal(3, recipe.Stages[0].Tasks);
        Assert.Equal(1, recipe.Stages[1].Tasks);
        Assert.Equal(["jsonl_reader", "jsonl_writer"], recipe.Stages[1].StepTypes);
    }

    [Fact]
    public void Unknown_step_type_is_named_with_its_position()
    {
        using var dir = new TempDirectory();
        var e = Rejects(OneStage("""{"type": "jsonl_reader", "path": "."}, {"type": "no_such_step"}"""), dir);
        Assert.Contains("stages[0].steps[1].type", e.Message, StringComparison.Ordinal);
        Assert.Contains("'no_such_step'", e.Message, StringComparison.Ordinal);
        Assert.Contains("warc_reader", e.Message, StringComparison.Ordinal); // lists what is known
    }

    [Fact]
    public void Missing_required_parameter_is_named()
    {
        using var dir = new TempDirectory();
        var e = Rejects(OneStage("""{"type": "warc_reader"}"""), dir);
        Assert.Contains("stages[0].steps[0].path (warc_reader): missing required parameter", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wrong_parameter_type_is_named_with_the_value()
    {
        using var dir = new TempDirectory();
        var e = Rejects(OneStage("""{"type": "jsonl_reader", "path": ".", "limit": "ten"}"""), dir);
        Assert.Contains("stages[0].steps[0].limit (jsonl_reader): expected an integer, got \"ten\"", e.Message, StringComparison.Ordinal);
        e = Rejects(OneStage("""{"type": "jsonl_reader", "path": "."}, {"type": "jsonl_writer", "path": "o", "compress": "yes"}"""), dir);
        Assert.Contains("stages[0].steps[1].compress (jsonl_writer): expected true or false", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_parameter_is_rejected()
    {
        using var dir = new TempDirectory();
        var e = Rejects(OneStage("""{"type": "jsonl_reader", "path": ".", "globb": "*.x"}"""), dir);
        Assert.Contains("stages[0].steps[0].globb (jsonl_reader): unknown parameter", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Input_path_must_exist_or_be_written_by_an_earlier_stage()
    {
        using var dir = new TempDirectory();
        var e = Rejects(OneStage("""{"type": "jsonl_reader", "path": "nowhere"}"""), dir);
        Assert.Contains("stages[0].steps[0].path", e.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", e.Message, StringComparison.Ordinal);
        // A later stage reading what a later-still stage writes is also wrong.
        e = Rejects("""
            {"stages": [{"name": "a", "steps": [{"type": "jsonl_reader", "path": "later"}]},
                        {"name": "b", "steps": [{"type": "jsonl_reader", "path": "."}, {"type": "jsonl_writer", "path": "later"}]}]}
            """, dir);
        Assert.Contains("stages[0].steps[0].path", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"stages": []}""", "stages: expected a non-empty array")]
    [InlineData("""{"stages": [{"name": "s", "tasks": 0, "steps": [{"type": "jsonl_reader", "path": "."}]}]}""", "stages[0].tasks: expected a positive integer, got 0")]
    [InlineData("""{"stages": [{"name": "s", "tasks": "4", "steps": [{"type": "jsonl_reader", "path": "."}]}]}""", "stages[0].tasks: expected a positive integer, got \"4\"")]
    [InlineData("""{"stages": [{"tasks": 1, "steps": [{"type": "jsonl_reader", "path": "."}]}]}""", "stages[0].name: missing")]
    [InlineData("""{"stages": [{"name": "s", "steps": []}]}""", "stages[0].steps: expected a non-empty array")]
    [InlineData("""{"stages": [{"name": "s", "steps": [{"path": "."}]}]}""", "stages[0].steps[0].type: missing")]
    [InlineData("""{"stage": []}""", "stage: unknown field")]
    [InlineData("""{"stages": [{"name": "s", "workers": 2, "steps": [{"type": "jsonl_reader", "path": "."}]}]}""", "stages[0].workers: unknown field")]
    [InlineData("""{"work_dir": 5, "stages": []}""", "work_dir: expected a string")]
    [InlineData("""{"stages": [{"name": "s", "steps": [{"type": "jsonl_reader", "path": "."}]}, {"name": "s", "steps": [{"type": "jsonl_reader", "path": "."}]}]}""", "stages[1].name: stage name 's' is used twice")]
    [InlineData("[1, 2]", "expected a JSON object at the top level")]
    [InlineData("{\"stages\": [\n  {\"name\": }", "not valid JSON at line 2")]
    public void Malformed_recipes_are_rejected_naming_the_field(string json, string expected)
    {
        using var dir = new TempDirectory();
        var e = Rejects(json, dir);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.StartsWith(dir.File("recipe.json"), e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_step_that_cannot_be_built_is_a_recipe_error_at_that_step()
    {
        StepRegistry.Register("test_cannot_build", _ => throw new InvalidOperationException("model file missing"));
        using var dir = new TempDirectory();
        var e = Rejects(OneStage("""{"type": "jsonl_reader", "path": "."}, {"type": "test_cannot_build"}"""), dir);
        Assert.Contains("stages[0].steps[1] (test_cannot_build): model file missing", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_recipe_file_is_reported()
    {
        var e = Assert.Throws<RecipeException>(() => Recipe.Load("/nonexistent/recipe.json"));
        Assert.Contains("/nonexistent/recipe.json", e.Message, StringComparison.Ordinal);
    }
}
