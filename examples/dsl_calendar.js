// dsl_calendar.js -- a team calendar with a week of standups.
// Run: rhaictl run examples/dsl_calendar.js -c team
var cal = Calendar.create({ name: "Team", owner: ctx.caller_id });
var day = 24 * 3600 * 1000, start = Date.UTC(2030, 0, 7, 9, 0);
for (var i = 0; i < 5; i++) {
    Event.create({ calendar: cal.id, title: "Standup", start: start + i * day,
                   end: start + i * day + 15 * 60 * 1000, location: "Room 1",
                   attendees: ["alice", "bob"] });
}
var bad = "";
try {
    Event.create({ calendar: cal.id, title: "Backwards", start: start, end: start - 1 });
} catch (e) {
    bad = e.message;                           // an event cannot end before it starts
}
({ events: Event.count({ where: { calendar: cal.id } }),
   first: new Date(Event.list({ order: "start", limit: 1 })[0].start).toISOString(),
   refused: bad })
