namespace LmForge.Data.Pipeline;

/// <summary>A step that reads documents from files under a path (lets a recipe check that the path will exist).</summary>
public interface IReadsFiles
{
    string InputPath { get; }
}

/// <summary>A step that writes files under a path, which later stages may read.</summary>
public interface IWritesFiles
{
    string OutputPath { get; }
}
