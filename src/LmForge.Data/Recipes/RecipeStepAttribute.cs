namespace LmForge.Data.Recipes;

/// <summary>
/// Names a pipeline step for recipes: a recipe step <c>{"type": "gopher_quality", ...}</c> becomes an instance of
/// the class carrying <c>[RecipeStep("gopher_quality")]</c>, built through its public constructor that takes one
/// <see cref="StepParameters"/>. Adding a stage to the recipe language is therefore: write the class, put the
/// attribute on it; <see cref="StepRegistry"/> finds it. The constructor reads every parameter it needs (so a
/// recipe is checked before any work starts) and must not touch the input data.
/// </summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class RecipeStepAttribute(string type) : Attribute
{
    public string Type { get; } = type;
}
