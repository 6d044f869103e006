using System.Reflection;
using LmForge.Data.Pipeline;
using LmForge.Tokenization;

namespace LmForge.Data.Recipes;

/// <summary>
/// Maps recipe step types ("warc_reader", "gopher_quality", ...) to the classes that implement them. Every class
/// of this assembly that carries <see cref="RecipeStepAttribute"/> is registered at start; a program can add its
/// own steps with <see cref="Register"/>.
/// </summary>
public static class StepRegistry
{
    private static readonly Dictionary<string, Func<StepParameters, IPipelineStep>> Factories = Discover(typeof(StepRegistry).Assembly);
    private static readonly Lock Gate = new();

    /// <summary>The step types a recipe may name, sorted.</summary>
    public static IReadOnlyList<string> Types
    {
        get { lock (Gate) return [.. Factories.Keys.Order(StringComparer.Ordinal)]; }
    }

    public static void Register(string type, Func<StepParameters, IPipelineStep> factory)
    {
        lock (Gate)
        {
            if (!Factories.TryAdd(type, factory)) throw new ArgumentException($"step type '{type}' is already registered", nameof(type));
        }
    }

    /// <summary>Builds a step, checking every parameter; throws <see cref="RecipeException"/> naming the field.</summary>
    public static IPipelineStep Create(StepParameters parameters)
    {
        Func<StepParameters, IPipelineStep>? factory;
        lock (Gate) Factories.TryGetValue(parameters.Type, out factory);
        if (factory is null)
            throw new RecipeException($"{parameters.Location}.type: unknown step type '{UntrustedText.Excerpt(parameters.Type)}', expected one of: {string.Join(", ", Types)}");
        IPipelineStep step;
        try
        {
            step = factory(parameters);
        }
        catch (TargetInvocationException e) when (e.InnerException is RecipeException inner)
        {
            throw new RecipeException(inner.Message, inner);
        }
        catch (Exception e) when (e is not RecipeException)
        {
            // A step that cannot be built (missing model, bad argument) is a recipe error at that step.
            var inner = e is TargetInvocationException { InnerException: { } wrapped } ? wrapped : e;
            throw new RecipeException($"{parameters.Location} ({parameters.Type}): {inner.Message}", inner);
        }
        parameters.EnsureAllRead();
        return step;
    }

    private static Dictionary<string, Func<StepParameters, IPipelineStep>> Discover(Assembly assembly)
    {
        var factories = new Dictionary<string, Func<StepParameters, IPipelineStep>>(StringComparer.Ordinal);
        foreach (var type in assembly.GetTypes())
        {
            var attribute = type.GetCustomAttribute<RecipeStepAttribute>();
            if (attribute is null) continue;
            var constructor = type.GetConstructor([typeof(StepParameters)]);
            if (constructor is null || !typeof(IPipelineStep).IsAssignableFrom(type))
                throw new InvalidOperationException($"{type.FullName}: a [RecipeStep] class must implement IPipelineStep and have a public constructor (StepParameters)");
            if (!factories.TryAdd(attribute.Type, p => (IPipelineStep)constructor.Invoke([p])))
                throw new InvalidOperationException($"{type.FullName}: step type '{attribute.Type}' is registered twice");
        }
        return factories;
    }
}
