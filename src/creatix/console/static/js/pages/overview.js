// Overview: balance, the plan's quota and its reset, this month's credits by day, the latest
// generations.
import { accountPath, api, barChart, h, load, num, render, when } from "../console.js";
import { noAccount, thumbnail } from "../parts.js";

function monthDays() {
  const today = new Date();
  const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1));
  const days = [];
  for (let d = new Date(first); d <= today; d.setUTCDate(d.getUTCDate() + 1)) days.push(d.toISOString().slice(0, 10));
  return days;
}

function quotaCard(account) {
  if (!account.quota) return h("div.card.stat", h("span", "Plan quota"), h("strong", "No limit"), h("span.muted", `Plan ${account.plan}`));
  const { used, images, period, resets_at: resets } = account.quota;
  return h("div.card.stat", h("span", `Images this ${period}`), h("strong", `${num(used)} / ${num(images)}`),
    h("progress", { max: images, value: used, "aria-label": "Quota used" }), h("span.muted", `Resets ${when(resets)}`));
}

load(async () => {
  if (noAccount()) return;
  const days = monthDays();
  const [account, usage, latest] = await Promise.all([
    api("GET", accountPath()),
    api("GET", accountPath(`/usage?group_by=day&start=${days[0]}&end=${days[days.length - 1]}`)),
    api("GET", accountPath("/generations?limit=6")),
  ]);
  const byDay = new Map(usage.rows.map((row) => [row.day, row.credits]));
  const points = days.map((day) => ({ label: day.slice(8), value: byDay.get(day) || 0 }));
  const month = points.reduce((sum, p) => sum + p.value, 0);
  render(
    h("section.stats",
      h("div.card.stat", h("span", "Balance"), h("strong", account.unlimited ? "Unlimited" : `${num(account.balance)} credits`),
        h("span.muted", `${account.name} · plan ${account.plan}`)),
      quotaCard(account),
      h("div.card.stat", h("span", "Credits this month"), h("strong", num(month)), h("span.muted", `${num(account.lifetime_used)} used in all`))),
    h("h2", "Credits by day, this month"),
    h("div.card", barChart(points, `Credits charged per day this month, ${num(month)} in all`)),
    h("h2", "Latest generations"),
    latest.data.length ? h("div.grid", latest.data.map(thumbnail))
      : h("p", "Nothing made yet. ", h("a", { href: "/console/playground" }, "Open the playground")),
  );
});
