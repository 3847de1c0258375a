namespace FlowService.Tests.Shared;

/// <summary>
/// The real-data suite's anomaly AUROC, as scikit-learn's <c>roc_auc_score(anomaly, -log p)</c> computes it: the share of
/// (anomalous, normal) pairs in which the anomalous row has the lower log p, ties counting half. One definition for the
/// quality test and the bench tool, whose figures are compared with the reference script's.
/// </summary>
public static class AnomalyAuroc
{
    public static double Of(IReadOnlyList<double> logProb, IReadOnlyList<bool> anomaly)
    {
        double wins = 0;
        int positives = 0, negatives = 0;
        for (int i = 0; i < logProb.Count; i++)
        {
            if (!anomaly[i])
            {
                negatives++;
                continue;
            }
            positives++;
            for (int j = 0; j < logProb.Count; j++)
                if (!anomaly[j])
                    wins += logProb[i] < logProb[j] ? 1 : logProb[i] == logProb[j] ? 0.5 : 0;
        }
        return wins / Math.Max(1, (double)positives * negatives);
    }
}
