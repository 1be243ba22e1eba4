#include "regulars/error.h"
#include "regulars/events.h"

int dom_events_add(struct dom_events *e, const struct dom_event *ev)
{
    if (e->n >= DOM_MAX_EVENTS)
        return RG_ETOOBIG;
    e->ev[e->n++] = *ev;
    return 0;
}
