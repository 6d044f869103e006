using System.Diagnostics;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;
using LmForge.Training.Checkpoints;
using LmForge.Training.Data;
using LmForge.Training.Metrics;

namespace LmForge.Training;

/// <summary>
/// The pretraining loop (as llm.c's train_gpt2): per optimizer step, GradientAccumulationSteps micro-batches of
/// forward+backward, global gradient-norm clipping, AdamW with the scheduled learning rate; validation loss every
/// EvalEvery steps, a text sample every SampleEvery steps, a metrics.jsonl line per step with a loss.svg next to it,
/// and a checkpoint every CheckpointEvery steps and at the end, each with a model card (README.md, <see cref="ModelCard"/>).
/// A cancelled run finishes its step, saves and returns. MFU is over <see cref="Peak"/> (measured, cached or stated).
/// <code>
/// using var trainer = Trainer.Start(config, model, backend, runDirectory);   // or Trainer.Resume(...)
/// var result = trainer.Run(cancellationToken);
/// </code>
/// </summary>
public sealed class Trainer : IDisposable
{
    public const string MetricsFile = "metrics.jsonl";
    public const string LossCurveFile = "loss.svg";

    readonly TrainingConfig _config;
    readonly ITrainableModel _model;
    readonly IBackend _backend;
    readonly AdamWOptimizer _optimizer;
    readonly IBatchSource _train;
    readonly IBatchSource _validation;
    readonly MetricsLog _metrics;
    readonly int[] _inputs, _targets, _documentStarts, _predictions;
    TrainerState _state;
    string? _resumedFrom;
    float? _lastTrainLoss;
    bool _peakExceeded;

    Trainer(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory, TrainerState state,
        AdamWOptimizer optimizer, IBatchSource train, IBatchSource validation, MetricsLog metrics)
    {
        _config = config;
        _model = model;
        _backend = backend;
        RunDirectory = runDirectory;
        _state = state;
        _optimizer = optimizer;
        _train = train;
        _validation = validation;
        _metrics = metrics;
        _inputs = new int[config.MicroBatchSize * config.ContextLength];
        // B × T for the decoders and the encoder, B × the decoder's length for an encoder-decoder (span corruption)
        _targets = new int[config.MicroBatchSize * Math.Max(train.TargetLength, validation.TargetLength)];
        _documentStarts = new int[_inputs.Length];
        _predictions = new int[_targets.Length];
    }

    public string RunDirectory { get; }

    public TrainingConfig Config => _config;

    public TrainerState State => _state;

    public ITrainingListener? Listener { get; set; }

    /// <summary>The run directory's checkpoints after the resumed step, moved to abandoned/ by <see cref="Resume"/> (their new paths).</summary>
    public IReadOnlyList<string> AbandonedCheckpoints { get; private init; } = [];

    /// <summary>Turns the model into text for the periodic samples (the CLI generates with the run's tokenizer).</summary>
    public Func<ITrainableModel, int, string>? Sampler { get; set; }

    /// <summary>Multiple-choice tasks scored with every validation (the config's evalTasks; see <see cref="TaskEvaluation.Open"/>), or null.</summary>
    public Tasks.TaskEvaluation? Tasks { get; set; }

    /// <summary>Files copied into every checkpoint (the tokenizer).</summary>
    public IReadOnlyList<string> CheckpointExtraFiles { get; set; } = [];

    /// <summary>
    /// The machine's peak for the MFU estimate; by default (null) <see cref="MachinePeak.Get"/> with the config's
    /// peakGflops at the start of <see cref="Run"/>: stated (peakGflops, LMFORGE_PEAK_GFLOPS), else measured by an FMA probe and cached.
    /// </summary>
    public MachinePeak? Peak { get; set; }

    /// <summary>Whether a step's MFU would have read above 100 % (it is clamped to 1; the peak is then too low).</summary>
    public bool PeakExceeded => _peakExceeded;

    /// <summary>Training FLOPs per input token of this run (<see cref="ITrainableModel.TrainingFlopsPerToken(int, int)"/> at the batch source's target length).</summary>
    public double FlopsPerToken => _model.TrainingFlopsPerToken(_config.ContextLength, _train.TargetLength);

    /// <summary>
    /// A new run in <paramref name="runDirectory"/> from the model's current (initialized) weights. Refuses a directory
    /// that already holds checkpoints: a second run there would mix with the first (the newest step-* wins on resume).
    /// </summary>
    public static Trainer Start(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory)
    {
        CheckpointDirectory.Sweep(runDirectory);
        if (CheckpointDirectory.List(runDirectory).Count > 0)
            throw new IOException($"{runDirectory} already holds checkpoints of a run; pass --resume {runDirectory} to continue it or choose another --out");
        var (optimizer, train, validation) = Open(config, model, backend, runDirectory);
        var metrics = MetricsLog.Create(Path.Combine(runDirectory, MetricsFile));
        return new Trainer(config, model, backend, runDirectory, new TrainerState(0, 0, train.Position, config.Seed, 0, train.Fingerprints()), optimizer, train, validation, metrics);
    }

    /// <summary>
    /// Continues the run whose checkpoint is <paramref name="checkpointDirectory"/>: checks the weights and moments
    /// against the hashes the checkpoint recorded, loads them, the step and the data position. <paramref name="config"/>
    /// may change the run length and reporting, not the model or the data order. The run directory's checkpoints after
    /// the resumed step (another branch of the run) are moved to abandoned/ (<see cref="AbandonedCheckpoints"/>), and
    /// metrics.jsonl keeps only the steps before it.
    /// </summary>
    public static Trainer Resume(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory, string checkpointDirectory)
    {
        var saved = TrainerState.LoadConfig(checkpointDirectory);
        if (config.IncompatibilityWith(saved) is { } reason)
            throw new TrainingConfigException($"{checkpointDirectory}: cannot resume with this config: {reason}; resume with the checkpoint's {TrainerState.ConfigFile} or start a new run");
        var (optimizer, train, validation) = Open(config, model, backend, runDirectory);
        try
        {
            var state = TrainerState.Load(checkpointDirectory, optimizer);
            model.LoadWeights(checkpointDirectory);
            var shards = train.Fingerprints();
            if (state.TrainingShards is { } savedShards && TokenShardFingerprint.Difference(savedShards, shards) is { } difference)
                throw new InvalidDataException($"{checkpointDirectory}: the training data differs from the checkpoint's: {difference}; resume with the same shards (an exact resume depends on them) or start a new run");
            state = state with { TrainingShards = shards };
            train.Seek(state.DataPosition);
            var abandoned = CheckpointDirectory.AbandonAfter(runDirectory, state.Step);
            var metrics = MetricsLog.Continue(Path.Combine(runDirectory, MetricsFile), state.Step);
            return new Trainer(config, model, backend, runDirectory, state, optimizer, train, validation, metrics)
            {
                _resumedFrom = checkpointDirectory, AbandonedCheckpoints = abandoned,
            };
        }
        catch
        {
            optimizer.Dispose();
            train.Dispose();
            validation.Dispose();
            throw;
        }
    }

    static (AdamWOptimizer, IBatchSource, IBatchSource) Open(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory)
    {
        config.Validate();
        if (model.VocabularySize != config.VocabularySize || model.ContextLength < config.ContextLength)
            throw new TrainingConfigException(
                $"the model (vocabulary {model.VocabularySize}, context {model.ContextLength}) does not match the config (vocabularySize {config.VocabularySize}, contextLength {config.ContextLength})");
        EnsureWritable(runDirectory);
        var (train, validation) = TrainingData.Open(config);
        try
        {
            var settings = new AdamWSettings(config.Beta1, config.Beta2, config.Epsilon, config.WeightDecay);
            return (new AdamWOptimizer(backend, model.Parameters.Length, model.DecayedParameterCount, settings), train, validation);
        }
        catch
        {
            train.Dispose();
            validation.Dispose();
            throw;
        }
    }

    /// <summary>Creates the run directory if needed and proves it writable, or fails with one line that says so.</summary>
    public static void EnsureWritable(string runDirectory)
    {
        try
        {
            Directory.CreateDirectory(runDirectory);
            string probe = Path.Combine(runDirectory, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"{runDirectory}: the output directory is not writable ({e.Message}); choose another with --out");
        }
    }

    /// <summary>Trains until config.Steps or until <paramref name="cancellation"/> is signalled (then the current step finishes and a checkpoint is saved).</summary>
    public TrainingResult Run(CancellationToken cancellation = default)
    {
        int accumulation = _config.GradientAccumulationSteps;
        float lossScale = 1f / accumulation;
        var schedule = _config.LearningRateSchedule;
        double flopsPerToken = FlopsPerToken;
        var peak = Peak ??= MachinePeak.Get(_config.PeakGflops);
        var losses = new List<float>();
        float lastTrainLoss = float.NaN;
        float? lastValidation = null;
        bool interrupted = false;
        var clock = Stopwatch.StartNew();
        double elapsedBefore = _state.ElapsedSeconds;
        int firstStep = _state.Step;
        int savedStep = _resumedFrom is null ? -1 : firstStep;
        string checkpoint = _resumedFrom ?? "";

        while (_state.Step < _config.Steps)
        {
            if (cancellation.IsCancellationRequested)
            {
                interrupted = true;
                break;
            }
            int step = _state.Step;
            float? validationLoss = null, validationAccuracy = null;
            IReadOnlyDictionary<string, float>? taskScores = null;
            if (_config.EvalEvery > 0 && step % _config.EvalEvery == 0)
            {
                (float evaluated, validationAccuracy) = Validate();
                validationLoss = lastValidation = evaluated;
                Listener?.OnValidation(step, evaluated, validationAccuracy);
                taskScores = EvaluateTasks(step);
            }
            if (_config.SampleEvery > 0 && step % _config.SampleEvery == 0 && Sampler is not null)
                Listener?.OnSample(step, Sampler(_model, step));

            long stepStart = Stopwatch.GetTimestamp();
            _backend.Clear(_model.Gradients);
            float loss = 0;
            for (int micro = 0; micro < accumulation; micro++)
            {
                var targets = _targets.AsSpan(0, _config.MicroBatchSize * _train.TargetLength);
                bool packed = _train.Next(_inputs, targets, _documentStarts);
                loss += _model.ForwardBackward(_inputs, targets, _config.MicroBatchSize, _config.ContextLength, lossScale, packed ? _documentStarts : default);
            }
            loss /= accumulation;
            float gradientNorm = (float)Math.Sqrt(_backend.SumOfSquares(_model.Gradients));
            // As TransformerModel.TrainStep: the exception counts steps from 1, as the progress display does.
            if (!float.IsFinite(loss)) throw new NonFiniteLossException(step + 1, "loss", loss);
            if (!float.IsFinite(gradientNorm)) throw new NonFiniteLossException(step + 1, "gradient norm", gradientNorm);
            // As torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1.
            float clipScale = _config.GradientClip > 0 ? Math.Min(1f, _config.GradientClip / (gradientNorm + 1e-6f)) : 1f;
            float learningRate = schedule.At(step);
            _optimizer.Step(_model.Parameters, _model.Gradients, learningRate, clipScale);
            double seconds = Stopwatch.GetElapsedTime(stepStart).TotalSeconds;

            long tokens = (long)_config.TotalBatchTokens;
            double tokensPerSecond = tokens / seconds;
            _state = _state with
            {
                Step = step + 1,
                TokensSeen = _state.TokensSeen + tokens,
                DataPosition = _train.Position,
                ElapsedSeconds = elapsedBefore + clock.Elapsed.TotalSeconds,
            };
            double mfu = tokensPerSecond * flopsPerToken / peak.FlopsPerSecond;
            if (MachinePeak.Exceeds(mfu) && !_peakExceeded)
            {
                _peakExceeded = true;
                Listener?.OnWarning(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"step {step + 1} ran at {mfu:P0} of the peak ({peak.Description}): the peak is too low, so MFU reads 100 %; state the machine's with {MachinePeak.EnvironmentVariable} or --set peak-gflops=N"));
            }
            var record = new MetricsRecord(step, loss, validationLoss, learningRate, gradientNorm, tokensPerSecond,
                MachinePeak.Clamp(mfu), _state.ElapsedSeconds, validationAccuracy, taskScores);
            _metrics.Append(record);
            losses.Add(loss);
            lastTrainLoss = loss;
            _lastTrainLoss = loss;
            double secondsPerStep = clock.Elapsed.TotalSeconds / (_state.Step - firstStep);
            Listener?.OnStep(record, _config.Steps, TimeSpan.FromSeconds(secondsPerStep * (_config.Steps - _state.Step)));
            if (validationLoss is not null) WriteLossCurve();

            bool last = _state.Step == _config.Steps;
            if (!last && _config.CheckpointEvery > 0 && _state.Step % _config.CheckpointEvery == 0)
            {
                checkpoint = SaveCheckpoint();
                savedStep = _state.Step;
            }
        }

        if (!interrupted)
        {
            // The final validation loss, after the last update, as its own record (no training step at this index).
            (float finalLoss, float? finalAccuracy) = Validate();
            lastValidation = finalLoss;
            Listener?.OnValidation(_state.Step, finalLoss, finalAccuracy);
            var finalTasks = EvaluateTasks(_state.Step);
            _metrics.Append(new MetricsRecord(_state.Step, null, finalLoss, schedule.At(_state.Step), null, 0, 0, _state.ElapsedSeconds, finalAccuracy, finalTasks));
        }
        if (savedStep != _state.Step) checkpoint = SaveCheckpoint();
        WriteLossCurve();
        return new TrainingResult(_state.Step, lastTrainLoss, lastValidation, checkpoint, interrupted, losses);
    }

    /// <summary>Mean loss over the first EvalBatches batches of the validation shards (always the same batches).</summary>
    public float ValidationLoss() => Validate().Loss;

    // The tasks' scores at this validation (between steps: the scoring forwards use the model's activations), or null.
    IReadOnlyDictionary<string, float>? EvaluateTasks(int step)
    {
        if (Tasks is null) return null;
        var scores = Tasks.Run(_model);
        Listener?.OnTasks(step, scores);
        return scores;
    }

    /// <summary>
    /// Mean loss over the first EvalBatches validation batches (always the same batches), and the fraction of their
    /// targets (those not −1) that the model ranks first, when the model says (null otherwise).
    /// </summary>
    public (float Loss, float? Accuracy) Validate()
    {
        _validation.Reset();
        int batches = (int)Math.Min(_config.EvalBatches, _validation.BatchesPerEpoch);
        double sum = 0;
        long correct = 0, counted = 0;
        bool predicts = true;
        for (int i = 0; i < batches; i++)
        {
            var targets = _targets.AsSpan(0, _config.MicroBatchSize * _validation.TargetLength);
            bool packed = _validation.Next(_inputs, targets, _documentStarts);
            sum += _model.Loss(_inputs, targets, _config.MicroBatchSize, _config.ContextLength, packed ? _documentStarts : default);
            var predictions = _predictions.AsSpan(0, targets.Length);
            predicts = predicts && _model.PredictTokens(predictions);
            if (!predicts) continue;
            for (int j = 0; j < targets.Length; j++)
            {
                if (targets[j] < 0) continue;
                counted++;
                if (predictions[j] == targets[j]) correct++;
            }
        }
        return ((float)(sum / batches), predicts && counted > 0 ? (float)((double)correct / counted) : null);
    }

    string SaveCheckpoint()
    {
        string directory = CheckpointDirectory.Save(RunDirectory, _state.Step, temporary =>
        {
            _model.SaveWeights(temporary);
            foreach (string file in CheckpointExtraFiles) File.Copy(file, Path.Combine(temporary, Path.GetFileName(file)));
            _state.Save(temporary, _optimizer, _config);
            ModelCard.Write(temporary, CardFacts(temporary));
        }, _config.KeepCheckpoints);
        Listener?.OnCheckpoint(_state.Step, directory);
        return directory;
    }

    /// <summary>What the model card of a checkpoint being written in <paramref name="directory"/> says (facts known now).</summary>
    ModelCardFacts CardFacts(string directory)
    {
        var records = _metrics.Records;
        var validation = records.LastOrDefault(r => r.ValidationLoss is not null);
        var stepMfus = records.Where(r => r.TrainLoss is not null && r.Mfu > 0).Select(r => r.Mfu).Order().ToList();
        string tokenizer = Path.Combine(directory, "tokenizer.json");
        return new ModelCardFacts
        {
            Config = _config,
            Model = _model switch
            {
                TransformerTrainableModel decoder => decoder.Config,
                EncoderDecoderTrainableModel encoderDecoder => encoderDecoder.Config,
                _ => null,
            },
            Parameters = _model.Parameters.Length,
            Step = _state.Step,
            TokensSeen = _state.TokensSeen,
            ElapsedSeconds = _state.ElapsedSeconds,
            FlopsPerToken = FlopsPerToken,
            Peak = Peak ??= MachinePeak.Get(_config.PeakGflops),
            MedianStepMfu = stepMfus.Count > 0 ? stepMfus[stepMfus.Count / 2] : null,
            TrainingData = _state.TrainingShards ?? _train.Fingerprints(),
            ValidationData = _validation.Fingerprints(),
            TokenizerFile = File.Exists(tokenizer) ? tokenizer : File.Exists(_config.Tokenizer) ? _config.Tokenizer : null,
            TokenizerInCheckpoint = File.Exists(tokenizer),
            LastTrainLoss = _lastTrainLoss ?? records.LastOrDefault(r => r.TrainLoss is not null)?.TrainLoss,
            Validation = validation is null ? null : (validation.Step, validation.ValidationLoss!.Value, validation.ValidationAccuracy),
            TaskScores = validation?.TaskScores,
        };
    }

    void WriteLossCurve() =>
        LossCurveSvg.Write(Path.Combine(RunDirectory, LossCurveFile), _metrics.Records,
            $"{_config.Architecture}, {_config.Layers} layers x {_config.EmbeddingSize} channels, {_config.TotalBatchTokens} tokens/step");

    public void Dispose()
    {
        _optimizer.Dispose();
        _train.Dispose();
        _validation.Dispose();
        _metrics.Dispose();
    }
}
