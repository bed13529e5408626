package dev.strata.bench.peers;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;

/**
 * PNG plots (XChart) of workloads 1 and 2: throughput and p99 latency against clients, one line per
 * side (and per batch size for ingest), both axes logarithmic. Medians over repetitions.
 */
public final class PeerPlots {
  private PeerPlots() {}

  /** Writes {@code ingest-throughput.png}, {@code ingest-p99.png}, {@code get-throughput.png}, {@code get-p99.png}; returns them. */
  public static List<Path> write(PeerReport r, Path dir) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<Path> out = new ArrayList<>();
    if (!r.sides("ingest").isEmpty()) {
      out.add(plot(r, dir, "ingest", "ingest-throughput", "Durable ingest (SYNC): throughput", "documents/s",
          PeerReport.Measurement::unitsPerSec, 1));
      out.add(plot(r, dir, "ingest", "ingest-p99", "Durable ingest (SYNC): p99 batch latency", "p99 latency (ms)",
          PeerReport.Measurement::p99Us, 1e3));
    }
    if (!r.sides("get").isEmpty()) {
      out.add(plot(r, dir, "get", "get-throughput", "Point Get: throughput", "gets/s", PeerReport.Measurement::opsPerSec, 1));
      out.add(plot(r, dir, "get", "get-p99", "Point Get: p99 latency", "p99 latency (µs)", PeerReport.Measurement::p99Us, 1));
    }
    return out;
  }

  private static Path plot(PeerReport r, Path dir, String workload, String file, String title, String yTitle,
      ToDoubleFunction<PeerReport.Measurement> metric, double divisor) throws IOException {
    XYChart chart = new XYChartBuilder().width(800).height(500).title(title).xAxisTitle("clients").yAxisTitle(yTitle).build();
    chart.getStyler().setXAxisLogarithmic(true).setYAxisLogarithmic(true)
        .setLegendPosition(Styler.LegendPosition.InsideNW).setChartBackgroundColor(java.awt.Color.WHITE);
    List<Integer> batches = r.measurements().stream().filter(m -> m.workload().equals(workload))
        .map(PeerReport.Measurement::batchDocs).distinct().toList();
    for (String side : r.sides(workload)) {
      for (int batch : batches) {
        List<Integer> clients = r.measurements().stream()
            .filter(m -> m.workload().equals(workload) && m.side().equals(side) && m.batchDocs() == batch)
            .map(PeerReport.Measurement::clients).distinct().sorted().toList();
        if (clients.isEmpty()) {
          continue;
        }
        double[] x = clients.stream().mapToDouble(Integer::doubleValue).toArray();
        double[] y = clients.stream().mapToDouble(c -> r.median(workload, side, c, batch, metric) / divisor).toArray();
        chart.addSeries(batch > 0 ? side + ", " + batch + " docs/batch" : side, x, y);
      }
    }
    Path png = dir.resolve(file + ".png");
    BitmapEncoder.saveBitmap(chart, dir.resolve(file).toString(), BitmapEncoder.BitmapFormat.PNG);
    return png;
  }
}
