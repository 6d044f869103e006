using System.CommandLine;
using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Training.Checkpoints;

namespace LmForge.Cli.Commands;

/// <summary>
/// `lmforge convert --from PATH --to PATH [--format hf|llmc|llmc-bf16]`: a model between a Hugging Face checkpoint
/// directory, a bare safetensors file and an llm.c GPT-2 model file; a thin front end over ModelFiles, ModelCheckpoint
/// and LlmcModelFile.
/// </summary>
public static class ConvertCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from")
        {
            Description = "The model: a checkpoint directory (config.json + model.safetensors), a safetensors file (config.json beside it, "
                + "or a GPT-2 whose sizes are read from its tensors), or an llm.c model file (.bin, float32 or bf16)",
            Required = true,
        };
        var to = new Option<string>("--to") { Description = "Where to write it (must not exist yet)", Required = true };
        var format = new Option<string?>("--format")
        {
            Description = "hf: a checkpoint directory; llmc: an llm.c float32 model file (gpt2_124M.bin); llmc-bf16: llm.c's bfloat16 file "
                + "(gpt2_124M_bf16.bin). Default: llmc when --to ends in .bin, else hf",
        };
        format.AcceptOnlyFromAmong("hf", "llmc", "llmc-bf16");
        var command = new Command("convert",
            "Convert a model between a Hugging Face checkpoint directory, a bare GPT-2 safetensors file and an llm.c GPT-2 model file. "
            + "An llm.c file holds no tokenizer (llm.c keeps it in gpt2_tokenizer.bin): converting to one drops it, and a checkpoint "
            + "directory made from one has no tokenizer.json; a directory converted to a directory keeps its tokenizer.json.")
        {
            from, to, format,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string source = parse.GetValue(from)!, target = parse.GetValue(to)!;
            string kind = parse.GetValue(format) ?? (target.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) ? "llmc" : "hf");
            if (File.Exists(target) || Directory.Exists(target))
                throw new IOException($"{target}: already exists; convert writes only a new --to");
            var sourceKind = ModelFiles.KindOf(source);
            using TransformerModel model = ModelFiles.Load(source, trainable: false);
            string? tokenizer = sourceKind == ModelFileKind.CheckpointDirectory ? Path.Combine(source, CheckpointTokenizer.FileName) : null;
            if (kind == "hf")
            {
                string card = LmForge.Training.ModelCard.RenderConverted(model.Config, model.ParameterCount, source,
                    sourceKind == ModelFileKind.CheckpointDirectory ? Path.Combine(source, LmForge.Training.ModelCard.FileName) : null);
                WriteDirectory(model, target, tokenizer is not null && File.Exists(tokenizer) ? tokenizer : null, card);
                Console.WriteLine($"Wrote {target} ({ModelCheckpoint.ConfigFileName}, {ModelCheckpoint.WeightsFileName}"
                    + (tokenizer is not null && File.Exists(tokenizer) ? $", {CheckpointTokenizer.FileName})" : "; no tokenizer.json)"));
            }
            else
            {
                LlmcModelFile.Save(model, target, kind == "llmc-bf16" ? LlmcPrecision.BFloat16 : LlmcPrecision.Float32);
                Console.WriteLine($"Wrote {target} (llm.c GPT-2, {(kind == "llmc-bf16" ? "bfloat16" : "float32")}; an llm.c model file holds no tokenizer)");
            }
            return 0;
        }));
        return command;
    }

    // The whole directory is written under a temporary name beside the target, then renamed into place.
    static void WriteDirectory(TransformerModel model, string target, string? tokenizer, string card)
    {
        string full = Path.GetFullPath(target);
        string temporary = $"{full}.tmp-{Environment.ProcessId}-{Guid.NewGuid():N}";
        try
        {
            ModelCheckpoint.Save(model, temporary);
            if (tokenizer is not null) File.Copy(tokenizer, Path.Combine(temporary, CheckpointTokenizer.FileName));
            File.WriteAllText(Path.Combine(temporary, LmForge.Training.ModelCard.FileName), card);
            Directory.Move(temporary, full);
        }
        catch
        {
            if (Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
            throw;
        }
    }
}
