using System.Diagnostics;
using LmForge.Models.Transformer;
using LmForge.Tensors;
using LmForge.Tensors.Cpu;
using LmForge.Tensors.Optimization;
using LmForge.Training.Checkpoints;
using LmForge.Training.Data;
using LmForge.Training.Distributed;
using LmForge.Training.Metrics;

namespace LmForge.Training;

/// <summary>
/// The pretraining loop (as llm.c's train_gpt2): per optimizer step, GradientAccumulationSteps micro-batches of
/// forward+backward, global gradient-norm clipping, AdamW with the scheduled learning rate; validation loss every
/// EvalEvery steps, a text sample every SampleEvery steps, a metrics.jsonl line per step with a loss.svg next to it,
/// and a checkpoint every CheckpointEvery steps and at the end, each with a model card (README.md, <see cref="ModelCard"/>).
/// A cancelled run finishes its step, saves and returns. MFU is over <see cref="Peak"/> (measured, cached or stated).
/// Data-parallel over an <see cref="ICollective"/>: each rank trains on its <see cref="BatchShare"/> of every global
/// batch, the gradients are summed across ranks before clipping, every rank applies the same update, and rank 0 alone
/// writes metrics, the loss curve and checkpoints (and reports to the listener, samples and scores tasks).
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
    readonly MetricsLog? _metrics; // rank 0's
    readonly ICollective _processes;
    float[] _replica = [];
    bool _stopAgreed;
    readonly int[] _inputs, _targets, _documentStarts, _predictions;
    TrainerState _state;
    string? _resumedFrom;
    float? _lastTrainLoss;
    bool _peakExceeded;

    Trainer(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory, TrainerState state,
        AdamWOptimizer optimizer, IBatchSource train, IBatchSource validation, MetricsLog? metrics, ICollective processes)
    {
        _processes = processes;
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
    /// <paramref name="processes"/>: the ranks of a data-parallel run (<see cref="ProcessGroup.Join"/>); null for one process.
    /// </summary>
    public static Trainer Start(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory, ICollective? processes = null)
    {
        processes ??= SingleProcess.Instance;
        if (processes.Rank == 0) CheckpointDirectory.Sweep(runDirectory);
        var (optimizer, train, validation) = Open(config, model, backend, runDirectory, processes, () =>
        {
            if (CheckpointDirectory.List(runDirectory).Count > 0)
                throw new IOException($"{runDirectory} already holds checkpoints of a run; pass --resume {runDirectory} to continue it or choose another --out");
        });
        var metrics = processes.Rank == 0 ? MetricsLog.Create(Path.Combine(runDirectory, MetricsFile)) : null;
        var state = new TrainerState(0, 0, train.Position, config.Seed, 0, train.Fingerprints(), Processes: processes.Size);
        return new Trainer(config, model, backend, runDirectory, state, optimizer, train, validation, metrics, processes);
    }

    /// <summary>
    /// Continues the run whose checkpoint is <paramref name="checkpointDirectory"/>: checks the weights and moments
    /// against the hashes the checkpoint recorded, loads them, the step and the data position. <paramref name="config"/>
    /// may change the run length and reporting, not the model or the data order. The run directory's checkpoints after
    /// the resumed step (another branch of the run) are moved to abandoned/ (<see cref="AbandonedCheckpoints"/>), and
    /// metrics.jsonl keeps only the steps before it.
    /// </summary>
    public static Trainer Resume(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory, string checkpointDirectory,
        ICollective? processes = null)
    {
        processes ??= SingleProcess.Instance;
        var (optimizer, train, validation) = Open(config, model, backend, runDirectory, processes, () =>
        {
            var saved = TrainerState.LoadConfig(checkpointDirectory);
            if (config.IncompatibilityWith(saved) is { } reason)
                throw new TrainingConfigException($"{checkpointDirectory}: cannot resume with this config: {reason}; resume with the checkpoint's {TrainerState.ConfigFile} or start a new run");
            int savedProcesses = TrainerState.ReadProcesses(checkpointDirectory);
            if (savedProcesses != processes.Size)
                throw new TrainingConfigException(
                    $"{checkpointDirectory}: saved by a run of {savedProcesses} process{(savedProcesses == 1 ? "" : "es")}, resumed with {processes.Size}: the data position counts global batches of processes x microBatchSize rows; resume with {savedProcesses} (mpirun -np {savedProcesses}, srun -n {savedProcesses}{(savedProcesses == 1 ? ", or no launcher" : "")})");
        });
        try
        {
            var state = TrainerState.Load(checkpointDirectory, optimizer);
            model.LoadWeights(checkpointDirectory);
            var shards = train.Fingerprints();
            if (state.TrainingShards is { } savedShards && TokenShardFingerprint.Difference(savedShards, shards) is { } difference)
                throw new InvalidDataException($"{checkpointDirectory}: the training data differs from the checkpoint's: {difference}; resume with the same shards (an exact resume depends on them) or start a new run");
            state = state with { TrainingShards = shards };
            train.Seek(state.DataPosition);
            // rank 0 alone changes the run directory
            IReadOnlyList<string> abandoned = processes.Rank == 0 ? CheckpointDirectory.AbandonAfter(runDirectory, state.Step) : [];
            var metrics = processes.Rank == 0 ? MetricsLog.Continue(Path.Combine(runDirectory, MetricsFile), state.Step) : null;
            return new Trainer(config, model, backend, runDirectory, state, optimizer, train, validation, metrics, processes)
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

    static (AdamWOptimizer, IBatchSource, IBatchSource) Open(TrainingConfig config, ITrainableModel model, IBackend backend, string runDirectory,
        ICollective processes, Action check)
    {
        IBatchSource? train = null, validation = null;
        try
        {
            check();
            config.Validate();
            config.ValidateProcesses(processes.Size);
            if (model.VocabularySize != config.VocabularySize || model.ContextLength < config.ContextLength)
                throw new TrainingConfigException(
                    $"the model (vocabulary {model.VocabularySize}, context {model.ContextLength}) does not match the config (vocabularySize {config.VocabularySize}, contextLength {config.ContextLength})");
            EnsureWritable(runDirectory);
            (train, validation) = TrainingData.Open(config, share: new BatchShare(processes.Rank, processes.Size));
            if (processes.Size > 1) AgreeOnStart(processes, config, train, validation, null);
        }
        catch (Exception e) when (processes.Size > 1 && e is not ProcessGroupException)
        {
            train?.Dispose();
            validation?.Dispose();
            AgreeOnStart(processes, config, null, null, e);
            throw;
        }
        catch
        {
            train?.Dispose();
            validation?.Dispose();
            throw;
        }
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

    // Every rank's config and data (a hash of the config and both shard lists), or its failure to open them, must be the
    // same. All ranks throw a ProcessGroupException together when they differ or all failed alike (rank 0 reports it);
    // a rank whose own failure differs returns, and its caller rethrows it (which ends the job).
    static void AgreeOnStart(ICollective processes, TrainingConfig config, IBatchSource? train, IBatchSource? validation, Exception? failure)
    {
        ulong hash = failure is not null ? StableHash.Of(failure.Message)
            : StableHash.Of(string.Join('\n', train!.Fingerprints().Concat(validation!.Fingerprints()).Select(f => $"{f.Name} {f.Tokens}")), StableHash.Of(config.ToJson()));
        ulong failed = failure is null ? 0UL : 1UL;
        Span<ulong> low = [hash, failed], high = [hash, failed];
        processes.AllReduceMin(low);
        processes.AllReduceMax(high);
        bool agree = low[0] == high[0] && low[1] == high[1];
        if (agree && failure is null) return;
        if (agree) throw new ProcessGroupException(processes.Rank, failure!.Message);
        if (failure is not null) return;
        throw new ProcessGroupException(processes.Rank, high[1] == 1
            ? $"another of the {processes.Size} processes could not start the run (its error is above); fix it and start all again"
            : $"the {processes.Size} processes disagree on the training config or data (a hash of the config and the shard lists differs between ranks): give every rank the same --config, --set, tokenizer and shard files");
    }

    // The parameters must be bit-identical on every rank (each applies the same summed gradient): compares a hash of
    // them across ranks; a mismatch stops the run on every rank at once.
    void CheckReplicas(int step)
    {
        if (_processes.Size == 1) return;
        if (_replica.Length != _model.Parameters.Length) _replica = new float[_model.Parameters.Length];
        _backend.CopyToHost(_model.Parameters, _replica);
        ulong hash = StableHash.Of(_replica);
        Span<ulong> low = [hash], high = [hash];
        _processes.AllReduceMin(low);
        _processes.AllReduceMax(high);
        if (low[0] != high[0])
            throw new ProcessGroupException(_processes.Rank,
                $"step {step}: the parameters differ between the {_processes.Size} processes (hashes {low[0]:x16} to {high[0]:x16}), so they no longer train one model; run every rank with the same lmforge build on the same kind of CPU (the kernels' instruction set decides the rounding) and resume from the last checkpoint");
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
        int ranks = _processes.Size;
        bool lead = _processes.Rank == 0;
        int accumulation = _config.AccumulationSteps(ranks);
        // each rank's loss is the mean over its rows; the sum over ranks is the global batch's mean times the ranks
        float lossScale = 1f / (accumulation * ranks);
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
        Span<double> reduced = stackalloc double[2];
        CheckReplicas(firstStep);

        while (_state.Step < _config.Steps)
        {
            // several ranks stop at the same step: each one's request was summed with the last step's loss
            if (ranks == 1 ? cancellation.IsCancellationRequested : _stopAgreed)
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
                if (lead) Listener?.OnValidation(step, evaluated, validationAccuracy);
                taskScores = EvaluateTasks(step);
            }
            if (lead && _config.SampleEvery > 0 && step % _config.SampleEvery == 0 && Sampler is not null)
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
            if (ranks > 1)
            {
                _processes.AllReduceSum(_backend, _model.Gradients);
                reduced[0] = loss;
                reduced[1] = cancellation.IsCancellationRequested ? 1 : 0;
                _processes.AllReduceSum(reduced);
                loss = (float)reduced[0];
                _stopAgreed = reduced[1] > 0;
            }
            loss /= accumulation * ranks;
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
            double mfu = tokensPerSecond * flopsPerToken / (peak.FlopsPerSecond * ranks); // every rank's peak taken as this one's
            if (MachinePeak.Exceeds(mfu) && !_peakExceeded)
            {
                _peakExceeded = true;
                Listener?.OnWarning(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"step {step + 1} ran at {mfu:P0} of the peak ({peak.Description}): the peak is too low, so MFU reads 100 %; state the machine's with {MachinePeak.EnvironmentVariable} or --set peak-gflops=N"));
            }
            var record = new MetricsRecord(step, loss, validationLoss, learningRate, gradientNorm, tokensPerSecond,
                MachinePeak.Clamp(mfu), _state.ElapsedSeconds, validationAccuracy, taskScores);
            _metrics?.Append(record);
            losses.Add(loss);
            lastTrainLoss = loss;
            _lastTrainLoss = loss;
            double secondsPerStep = clock.Elapsed.TotalSeconds / (_state.Step - firstStep);
            if (lead) Listener?.OnStep(record, _config.Steps, TimeSpan.FromSeconds(secondsPerStep * (_config.Steps - _state.Step)));
            if (validationLoss is not null) WriteLossCurve();
            if (_config.ReplicaCheckEvery > 0 && _state.Step % _config.ReplicaCheckEvery == 0) CheckReplicas(_state.Step);

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
            if (lead) Listener?.OnValidation(_state.Step, finalLoss, finalAccuracy);
            var finalTasks = EvaluateTasks(_state.Step);
            _metrics?.Append(new MetricsRecord(_state.Step, null, finalLoss, schedule.At(_state.Step), null, 0, 0, _state.ElapsedSeconds, finalAccuracy, finalTasks));
        }
        CheckReplicas(_state.Step);
        if (savedStep != _state.Step) checkpoint = SaveCheckpoint();
        WriteLossCurve();
        return new TrainingResult(_state.Step, lastTrainLoss, lastValidation, checkpoint, interrupted, losses);
    }

    /// <summary>Mean loss over the first EvalBatches batches of the validation shards (always the same batches).</summary>
    public float ValidationLoss() => Validate().Loss;

    // The tasks' scores at this validation (between steps: the scoring forwards use the model's activations), or null.
    IReadOnlyDictionary<string, float>? EvaluateTasks(int step)
    {
        if (Tasks is null || _processes.Rank != 0) return null;
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
        if (_processes.Size > 1)
        {
            // each rank scored its share of the same global batches
            Span<double> totals = [sum, correct, counted, predicts ? 1 : 0];
            _processes.AllReduceSum(totals);
            (sum, correct, counted, predicts) = (totals[0] / _processes.Size, (long)totals[1], (long)totals[2], totals[3] == _processes.Size);
        }
        return ((float)(sum / batches), predicts && counted > 0 ? (float)((double)correct / counted) : null);
    }

    string SaveCheckpoint()
    {
        if (_processes.Rank != 0) return Path.Combine(RunDirectory, CheckpointDirectory.NameFor(_state.Step));
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
        var records = _metrics!.Records;
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

    void WriteLossCurve()
    {
        if (_metrics is null) return;
        LossCurveSvg.Write(Path.Combine(RunDirectory, LossCurveFile), _metrics.Records,
            $"{_config.Architecture}, {_config.Layers} layers x {_config.EmbeddingSize} channels, {_config.TotalBatchTokens} tokens/step");
    }

    public void Dispose()
    {
        _optimizer.Dispose();
        _train.Dispose();
        _validation.Dispose();
        _metrics?.Dispose();
    }
}
