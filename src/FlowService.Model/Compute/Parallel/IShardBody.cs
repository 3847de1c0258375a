namespace FlowService.Model.Compute.Parallel;

/// <summary>
/// The work of one shard, as a struct so that <see cref="ShardRunner.Run{TBody}(int, TBody)"/>
/// runs it without allocating a delegate or a closure. The same value is shared by every thread
/// of a run, so <see cref="Run"/> must only write to memory that belongs to its shard.
/// </summary>
public interface IShardBody
{
    void Run(int shard);
}
