using LmForge.Models.Checkpoints;
using LmForge.Models.Transformer;
using LmForge.Tensors.Optimization;
using LmForge.Tokenization;
using LmForge.Tokenization.Training;

// Train a tokenizer on some text and see its ids.
string text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. ", 200));
BpeTokenizer tokenizer = new BpeTrainer(new BpeTrainerOptions { VocabSize = 300 }).TrainOnTexts([text]).ToTokenizer();
int[] ids = tokenizer.EncodeOrdinary(text);
Console.WriteLine($"{ids.Length} tokens; round trip: {tokenizer.DecodeText(ids) == text}");

// A small Llama-style decoder (RMSNorm, rotary positions, SwiGLU, grouped-query attention, untied head).
// TransformerConfig.Gpt2(...) gives a GPT-2 instead: the same model class, another configuration.
var config = TransformerConfig.Llama(vocabSize: tokenizer.VocabularySize, contextLength: 32, layerCount: 2, headCount: 4,
    keyValueHeadCount: 2, width: 64);
using var model = new TransformerModel(config);   // one parameter buffer, one gradient buffer
model.InitializeWeights(seed: 1337);
using var optimizer = model.CreateOptimizer(new AdamWSettings(Beta1: 0.9f, Beta2: 0.95f, Epsilon: 1e-8f, WeightDecay: 0.1f));
int batch = 4, time = 32;
for (int step = 0; step < 50; step++)
{
    int start = step * 7 % (ids.Length - batch * time - 1);
    var window = ids.AsSpan(start, batch * time + 1);
    TrainStepResult result = model.TrainStep(window[..^1], window[1..], batch, time, optimizer, learningRate: 1e-3f, maxGradNorm: 1f);
    if (step % 10 == 0) Console.WriteLine($"step {result.Step}: loss {result.Loss:F3}");
}
ModelCheckpoint.Save(model, "my-model");   // model.safetensors + config.json in Hugging Face Llama layout
using TransformerModel restored = ModelCheckpoint.Load("my-model");   // the family comes from config.json
