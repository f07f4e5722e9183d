// Draws every server-built Plotly figure on the page: <div id="X"> + <script id="X-data">.
// A point whose customdata is a local URL drills down to it when clicked.
(function () {
  for (const holder of document.querySelectorAll("div.chart[id]")) {
    const data = document.getElementById(holder.id + "-data");
    if (!data) continue;
    const figure = JSON.parse(data.textContent);
    Plotly.newPlot(holder, figure.data, figure.layout, { responsive: true, displaylogo: false })
      .then(() => {
        holder.on("plotly_click", (event) => {
          const url = event.points && event.points[0] && event.points[0].customdata;
          if (typeof url === "string" && url.startsWith("/")) window.location.assign(url);
        });
        holder.setAttribute("data-drawn", "true");
      });
  }
})();
