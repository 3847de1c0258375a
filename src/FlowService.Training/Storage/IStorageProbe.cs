namespace FlowService.Training.Storage;

/// <summary>Answers whether the metadata store can be reached now (for GET /health/ready).</summary>
public interface IStorageProbe
{
    bool IsReachable();
}
