using System.Text.Json;
using LmForge.Data.Pipeline;
using LmForge.Tokenization;

namespace LmForge.Data.Recipes;

/// <summary>
/// A data recipe: named stages run one after another, each split into <c>tasks</c> independent tasks that run
/// the same list of steps on their share of the input. Loading checks everything a run needs (field types, step
/// types and parameters, input paths that exist or that an earlier stage writes) and throws
/// <see cref="RecipeException"/> naming the file and field, before any work starts.
/// <code>
/// {
///   "name": "fineweb-mini",
///   "work_dir": "work",
///   "stages": [
///     { "name": "extract", "tasks": 8, "removed_dir": "removed",
///       "steps": [ {"type": "warc_reader", "path": "crawl"}, {"type": "html_extractor"},
///                  {"type": "jsonl_writer", "path": "clean"} ] }
///   ]
/// }
/// </code>
/// </summary>
public sealed class Recipe
{
    private static readonly HashSet<string> RecipeFields = ["name", "work_dir", "stages", "description"];
    private static readonly HashSet<string> StageFields = ["name", "tasks", "steps", "removed_dir", "description"];

    private Recipe(string sourcePath, string name, string workDirectory, IReadOnlyList<RecipeStage> stages)
    {
        SourcePath = sourcePath;
        Name = name;
        WorkDirectory = workDirectory;
        Stages = stages;
    }

    /// <summary>The recipe file (relative paths inside it are relative to its directory).</summary>
    public string SourcePath { get; }

    public string Name { get; }

    /// <summary>Where completion markers, per-task stats and logs go: {work_dir}/{stage}/...</summary>
    public string WorkDirectory { get; }

    public IReadOnlyList<RecipeStage> Stages { get; }

    public RecipeStage Stage(string name) =>
        Stages.FirstOrDefault(s => s.Name == name)
        ?? throw new RecipeException($"{SourcePath}: no stage named '{name}', expected one of: {string.Join(", ", Stages.Select(s => s.Name))}");

    public static Recipe Load(string path)
    {
        path = Path.GetFullPath(path);
        if (!File.Exists(path)) throw new RecipeException($"{path}: recipe file does not exist");
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses recipe JSON; sourcePath names it in errors and anchors relative paths.</summary>
    public static Recipe Parse(string json, string sourcePath)
    {
        string baseDirectory = Path.GetDirectoryName(Path.GetFullPath(sourcePath))!;
        JsonElement root;
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            root = document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new RecipeException($"{sourcePath}: not valid JSON at {UntrustedText.JsonError(e)}");
        }
        if (root.ValueKind != JsonValueKind.Object) throw new RecipeException($"{sourcePath}: expected a JSON object at the top level");
        CheckFields(root, RecipeFields, sourcePath);

        string name = OptionalString(root, "name", sourcePath) ?? Path.GetFileNameWithoutExtension(sourcePath);
        string workDirectory = StepParameters.FullPath(OptionalString(root, "work_dir", sourcePath) ?? "work", baseDirectory, $"{sourcePath}: work_dir");
        if (!root.TryGetProperty("stages", out var stagesJson) || stagesJson.ValueKind != JsonValueKind.Array || stagesJson.GetArrayLength() == 0)
            throw new RecipeException($"{sourcePath}: stages: expected a non-empty array of stages");

        var stages = new List<RecipeStage>();
        var written = new List<string>();
        int index = 0;
        foreach (var stageJson in stagesJson.EnumerateArray())
        {
            string where = $"{sourcePath}: stages[{index}]";
            if (stageJson.ValueKind != JsonValueKind.Object) throw new RecipeException($"{where}: expected an object");
            CheckFields(stageJson, StageFields, where);
            string stageName = OptionalString(stageJson, "name", where) ?? throw new RecipeException($"{where}.name: missing, expected a stage name");
            if (stageName.Length == 0 || stageName.IndexOfAny([.. Path.GetInvalidFileNameChars(), ' ']) >= 0)
                throw new RecipeException($"{where}.name: '{UntrustedText.Excerpt(stageName)}' is not usable as a directory name");
            if (stages.Any(s => s.Name == stageName)) throw new RecipeException($"{where}.name: stage name '{UntrustedText.Excerpt(stageName)}' is used twice");
            int tasks = 1;
            if (stageJson.TryGetProperty("tasks", out var tasksJson) && (tasksJson.ValueKind != JsonValueKind.Number || !tasksJson.TryGetInt32(out tasks) || tasks < 1))
                throw new RecipeException($"{where}.tasks: expected a positive integer, got {UntrustedText.Json(tasksJson)}");
            string? removedDirectory = OptionalString(stageJson, "removed_dir", where) is { } removed ? StepParameters.FullPath(removed, baseDirectory, $"{where}.removed_dir") : null;
            if (!stageJson.TryGetProperty("steps", out var stepsJson) || stepsJson.ValueKind != JsonValueKind.Array || stepsJson.GetArrayLength() == 0)
                throw new RecipeException($"{where}.steps: expected a non-empty array of steps");

            var stepSpecs = new List<StepSpec>();
            int stepIndex = 0;
            foreach (var stepJson in stepsJson.EnumerateArray())
            {
                string stepWhere = $"{where}.steps[{stepIndex}]";
                if (stepJson.ValueKind != JsonValueKind.Object) throw new RecipeException($"{stepWhere}: expected an object with a \"type\"");
                if (!stepJson.TryGetProperty("type", out var typeJson) || typeJson.ValueKind != JsonValueKind.String)
                    throw new RecipeException($"{stepWhere}.type: missing, expected a step type such as \"warc_reader\"");
                var spec = new StepSpec(stepJson.Clone(), stepWhere, StepParameters.Text(typeJson, $"{stepWhere}.type"), baseDirectory);
                var step = spec.Create(); // validates every parameter now, before any work
                if (step is IReadsFiles reader && !File.Exists(reader.InputPath) && !Directory.Exists(reader.InputPath)
                    && !written.Any(w => IsUnder(reader.InputPath, w)))
                    throw new RecipeException($"{stepWhere}.path ({spec.Type}): input '{Shown(reader.InputPath, baseDirectory)}' does not exist and no earlier stage writes it");
                if (step is IWritesFiles writer) written.Add(writer.OutputPath);
                stepSpecs.Add(spec);
                stepIndex++;
            }
            stages.Add(new RecipeStage(stageName, tasks, stepSpecs, removedDirectory, index));
            index++;
        }
        return new Recipe(sourcePath, name, workDirectory, stages);
    }

    // A path from the recipe in a message: beside the recipe, the recipe's directory and an excerpt of the rest (the
    // recipe's text can be any length of anything); elsewhere an excerpt of the whole.
    private static string Shown(string path, string baseDirectory)
    {
        string relative = Path.GetRelativePath(baseDirectory, path);
        return IsUnder(path, baseDirectory) ? Path.Combine(baseDirectory, UntrustedText.Excerpt(relative)) : UntrustedText.Excerpt(path);
    }

    private static bool IsUnder(string path, string directory)
    {
        var relative = Path.GetRelativePath(directory, path);
        return relative == "." || (!relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative));
    }

    private static void CheckFields(JsonElement element, HashSet<string> allowed, string where)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (!allowed.Contains(property.Name))
                throw new RecipeException($"{where}.{property.Name}: unknown field, expected one of: {string.Join(", ", allowed.Order(StringComparer.Ordinal))}");
        }
    }

    private static string? OptionalString(JsonElement element, string name, string where)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind != JsonValueKind.String) throw new RecipeException($"{where}.{name}: expected a string, got {UntrustedText.Json(value)}");
        return StepParameters.Text(value, $"{where}.{name}");
    }
}

/// <summary>One stage of a recipe: its name, number of tasks and the steps each task runs.</summary>
public sealed class RecipeStage
{
    private readonly IReadOnlyList<StepSpec> _steps;

    internal RecipeStage(string name, int tasks, IReadOnlyList<StepSpec> steps, string? removedDirectory, int index)
    {
        Name = name;
        Tasks = tasks;
        _steps = steps;
        RemovedDirectory = removedDirectory;
        Index = index;
    }

    public string Name { get; }

    /// <summary>The world size: task r of Tasks reads every Tasks-th input file starting at r.</summary>
    public int Tasks { get; }

    /// <summary>When set, removed documents are written under {RemovedDirectory}/{step}/{rank}.jsonl.gz with their reason.</summary>
    public string? RemovedDirectory { get; }

    /// <summary>Position of the stage in the recipe (0 = first).</summary>
    public int Index { get; }

    public IReadOnlyList<string> StepTypes => [.. _steps.Select(s => s.Type)];

    /// <summary>Fresh step instances for one task (steps may hold per-task state).</summary>
    public IReadOnlyList<IPipelineStep> CreateSteps() => [.. _steps.Select(s => s.Create())];
}

internal sealed record StepSpec(JsonElement Json, string Location, string Type, string BaseDirectory)
{
    public IPipelineStep Create() => StepRegistry.Create(new StepParameters(Json, Location, Type, BaseDirectory));
}
