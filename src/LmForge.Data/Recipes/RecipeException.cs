namespace LmForge.Data.Recipes;

/// <summary>A recipe that cannot run: the message names the file and the field at fault, and what was expected.</summary>
public sealed class RecipeException : Exception
{
    public RecipeException(string message) : base(message) { }

    public RecipeException(string message, Exception inner) : base(message, inner) { }

    public RecipeException() { }
}
