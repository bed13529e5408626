package dev.strata.bench.compaction;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** PNG line charts of a {@link CompactionSoak.Report}, one series per side (XChart, headless). */
final class SoakPlot {
  private SoakPlot() {}

  /** Segments in fork main's head over time. */
  static void segments(CompactionSoak.Report r, Path png) throws IOException {
    plot(r, png, "Segments per fork over time (fork main, flush interval " + r.config().flushIntervalMs() + " ms)",
        "segments in the head manifest", CompactionSoak.Sample::segments, false);
  }

  /** The p99 of each second's write service latency, log scale. */
  static void writeP99(CompactionSoak.Report r, Path png) throws IOException {
    plot(r, png, "Write latency p99 per second (" + r.config().durability() + ", "
            + r.config().batchDocs() + " docs/write)",
        "write p99 in the second, µs (log)", CompactionSoak.Sample::intervalP99Us, true);
  }

  private static void plot(CompactionSoak.Report r, Path png, String title, String yTitle,
      ToDoubleFunction<CompactionSoak.Sample> y, boolean logY) throws IOException {
    System.setProperty("java.awt.headless", "true");
    XYChart chart = new XYChartBuilder().width(1000).height(520).title(title)
        .xAxisTitle("seconds since the side's load started").yAxisTitle(yTitle).build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
    chart.getStyler().setYAxisLogarithmic(logY);
    chart.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
    for (CompactionSoak.Side side : r.sides()) {
      List<CompactionSoak.Sample> s = side.samples().stream()
          .filter(x -> !Double.isNaN(y.applyAsDouble(x)) && (!logY || y.applyAsDouble(x) > 0)).toList();
      if (s.isEmpty()) {
        continue;
      }
      double[] xs = s.stream().mapToDouble(CompactionSoak.Sample::t).toArray();
      double[] ys = s.stream().mapToDouble(y).toArray();
      XYSeries series = chart.addSeries(side.name(), xs, ys);
      series.setMarker(SeriesMarkers.NONE);
    }
    try (OutputStream out = Files.newOutputStream(png)) {
      BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
    }
  }
}
