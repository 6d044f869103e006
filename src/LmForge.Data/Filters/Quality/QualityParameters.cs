using LmForge.Data.Recipes;

namespace LmForge.Data.Filters.Quality;

/// <summary>Reads quality-filter thresholds from recipe parameters; as in datatrove, 0 turns a rule off (null here).</summary>
internal static class QualityParameters
{
    public static double? Fraction(StepParameters p, string name, double? defaultValue, double max = 1)
    {
        if (!p.Has(name))
        {
            p.GetDouble(name, 0); // marks the name as read
            return defaultValue;
        }
        double v = p.GetDouble(name, 0);
        if (double.IsNaN(v) || v < 0 || v > max) throw p.Invalid(name, $"expected a number in 0..{max} (0 turns the rule off), got {v}");
        return v == 0 ? null : v;
    }

    public static int? Count(StepParameters p, string name, int? defaultValue)
    {
        if (!p.Has(name))
        {
            p.GetInt(name, 0);
            return defaultValue;
        }
        int v = p.GetInt(name, 0);
        if (v < 0) throw p.Invalid(name, $"expected a count >= 0 (0 turns the rule off), got {v}");
        return v == 0 ? null : v;
    }
}
