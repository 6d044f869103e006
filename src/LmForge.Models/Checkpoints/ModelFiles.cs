using System.Buffers.Binary;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.SafeTensors;

namespace LmForge.Models.Checkpoints;

/// <summary>The layouts <see cref="ModelFiles.Load"/> reads.</summary>
public enum ModelFileKind
{
    /// <summary>A Hugging Face checkpoint directory: config.json + model.safetensors (<see cref="ModelCheckpoint"/>).</summary>
    CheckpointDirectory,

    /// <summary>A bare safetensors weights file, with or without a config.json beside it.</summary>
    SafeTensors,

    /// <summary>An llm.c GPT-2 model file, float32 or bfloat16 (<see cref="LlmcModelFile"/>).</summary>
    Llmc,
}

/// <summary>A single-stack model from any of the layouts LmForge reads, for tools that take "a model" as a path.</summary>
public static class ModelFiles
{
    /// <summary>
    /// A directory is a checkpoint directory; a file ending in .bin is an llm.c model file, one ending in .safetensors a
    /// weights file; any other file is an llm.c model file if it starts with llm.c's magic, else a weights file.
    /// </summary>
    public static ModelFileKind KindOf(string path)
    {
        if (Directory.Exists(path)) return ModelFileKind.CheckpointDirectory;
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file or directory", path);
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return ModelFileKind.Llmc;
        if (path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) return ModelFileKind.SafeTensors;
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && BinaryPrimitives.ReadInt32LittleEndian(magic) == LlmcModelFile.Magic
            ? ModelFileKind.Llmc : ModelFileKind.SafeTensors;
    }

    /// <summary>
    /// Loads a model from <paramref name="path"/> (see <see cref="KindOf"/>). A bare weights file takes its config from a
    /// config.json in the same directory, or, without one, is read as a GPT-2 whose sizes come from its tensor shapes
    /// (<c>Gpt2Format.InferConfig</c>: heads of size 64, as OpenAI's GPT-2 checkpoints).
    /// </summary>
    public static TransformerModel Load(string path, IBackend? backend = null, bool trainable = true)
    {
        switch (KindOf(path))
        {
            case ModelFileKind.CheckpointDirectory:
                return ModelCheckpoint.Load(path, backend, trainable);
            case ModelFileKind.Llmc:
                return LlmcModelFile.Load(path, backend, trainable);
        }
        string config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, ModelCheckpoint.ConfigFileName);
        TransformerConfig modelConfig;
        if (File.Exists(config))
        {
            modelConfig = ModelCheckpoint.ReadConfig(config);
            if (modelConfig.IsEncoderDecoder)
                throw new InvalidDataException($"{config}: a {modelConfig.Family} model is an encoder-decoder; load its checkpoint directory with ModelCheckpoint.LoadEncoderDecoder");
        }
        else
        {
            using var file = SafeTensorsFile.Open(path);
            modelConfig = Gpt2Format.InferConfig(file);
        }
        return ModelCheckpoint.Filled(new TransformerModel(modelConfig, backend, trainable), model => ModelCheckpoint.LoadWeights(model, path));
    }
}
