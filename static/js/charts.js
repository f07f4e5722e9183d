// Draws every server-built Plotly figure on the page: <div id="X"> + <script id="X-data">.
(function () {
  for (const holder of document.querySelectorAll("div.chart[id]")) {
    const data = document.getElementById(holder.id + "-data");
    if (!data) continue;
    const figure = JSON.parse(data.textContent);
    Plotly.newPlot(holder, figure.data, figure.layout, { responsive: true, displaylogo: false })
      .then(() => holder.setAttribute("data-drawn", "true"));
  }
})();
