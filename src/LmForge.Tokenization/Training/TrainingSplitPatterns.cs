namespace LmForge.Tokenization.Training;

internal static class TrainingSplitPatterns
{
    // tiktoken's cl100k_base pattern in .NET syntax (no possessive quantifiers needed for this form).
    public const string Cl100k =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
}
