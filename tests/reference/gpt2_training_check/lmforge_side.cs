#:project ../../../src/LmForge.Models/LmForge.Models.csproj
#:property PublishAot=false
// LmForge half of the GPT-2 training check (see run.sh): loads the checkpoint PyTorch exported, trains the same
// 4 AdamW steps on the same batch and prints the losses. Usage: dotnet run lmforge_side.cs -- OUT_DIR
using System.Text.Json;
using LmForge.Models.Checkpoints;
using LmForge.Tensors.Optimization;

string directory = args[0];
using var model = ModelCheckpoint.Load(directory);
int[][] rows = JsonSerializer.Deserialize<int[][]>(File.ReadAllText(Path.Combine(directory, "tokens.json")))!;
int[] tokens = rows.SelectMany(r => r[..^1]).ToArray();
int[] targets = rows.SelectMany(r => r[1..]).ToArray();
using var optimizer = model.CreateOptimizer(new AdamWSettings(Beta1: 0.9f, Beta2: 0.95f, Epsilon: 1e-8f, WeightDecay: 0.1f));
var losses = new List<float>();
for (int i = 0; i < 4; i++) losses.Add(model.TrainStep(tokens, targets, rows.Length, rows[0].Length - 1, optimizer, 3e-4f, 1f).Loss);
Console.WriteLine("LmForge losses: " + string.Join(", ", losses.Select(l => l.ToString("F4", System.Globalization.CultureInfo.InvariantCulture))));
